"""IKEv1 cryptography: the Oakley groups, the pseudo-random function, keys and IVs.

Everything here follows RFC 2409 (§5 key derivation, §6 groups, Appendix B keys and
IVs); each function says which rule it computes. Hash functions come from
``hashlib``/``hmac``, ciphers from ``cryptography`` (DES as TripleDES with one key
repeated, like the ESP code).

Groups. The MODP groups 1, 2 (RFC 2409 §6.1, §6.2) and 5 (RFC 3526 §2) are defined
by a formula, ``p = 2^n - 2^(n-64) - 1 + 2^64 * (floor(2^(n-130) * pi) + k)``, with
generator 2; :func:`oakley_prime` evaluates it (pi by Machin's formula in integer
arithmetic), so no hexadecimal constant was copied here. The tests check the
results are prime, safe, and begin with the octets everyone knows.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import cache
from typing import Final

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

try:
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # pragma: no cover - older cryptography
    TripleDES = None  # type: ignore[assignment,misc]

from vpnha.impl.entropy import Entropy

__all__ = [
    "GROUP_BITS",
    "DhKey",
    "IkeCipher",
    "cipher_named",
    "derive_skeyids",
    "expand_key",
    "hash_length",
    "keymat",
    "oakley_prime",
    "phase1_iv",
    "phase2_iv",
    "prf",
    "shared_secret",
]

GROUP_BITS: Final = {1: 768, 2: 1024, 5: 1536}
"""Modulus size in bits of each supported Oakley group."""
_GROUP_K: Final = {1: 149_686, 2: 129_093, 5: 741_804}
"""The offset ``k`` of each group's formula (RFC 2409 §6, RFC 3526 §2)."""
_PRIVATE_OCTETS: Final = 32
"""Octets of a private exponent (256 bits: at least twice the strength of any group here)."""


def _arctan_inverse(x: int, unity: int) -> int:
    """``unity * atan(1/x)`` by its Taylor series, in integers."""
    total = term = unity // x
    n = 1
    x2 = x * x
    sign = -1
    while term:
        term //= x2
        n += 2
        total += sign * (term // n)
        sign = -sign
    return total


@cache
def _pi_scaled(bits: int) -> int:
    """``floor(pi * 2^bits)``, exact (Machin: pi = 16 atan(1/5) - 4 atan(1/239))."""
    guard = 64
    unity = 1 << (bits + guard)
    pi = 16 * _arctan_inverse(5, unity) - 4 * _arctan_inverse(239, unity)
    return pi >> guard


@cache
def oakley_prime(group: int) -> int:
    """The modulus of Oakley group 1, 2 or 5, from its defining formula."""
    n = GROUP_BITS[group]
    return (1 << n) - (1 << (n - 64)) - 1 + (1 << 64) * (_pi_scaled(n - 130) + _GROUP_K[group])


def _octets(group: int) -> int:
    return GROUP_BITS[group] // 8


@dataclass(frozen=True, slots=True)
class DhKey:
    """A Diffie-Hellman key pair in one Oakley group."""

    group: int
    private: int
    public: bytes
    """g^x mod p, big-endian, as many octets as the modulus."""

    @classmethod
    def generate(cls, group: int, entropy: Entropy) -> DhKey:
        """A fresh pair (raises KeyError for an unsupported group)."""
        prime = oakley_prime(group)
        private = 2 + int.from_bytes(entropy.token_bytes(_PRIVATE_OCTETS), "big") % (prime - 3)
        public = pow(2, private, prime).to_bytes(_octets(group), "big")
        return cls(group, private, public)


def shared_secret(key: DhKey, peer_public: bytes) -> bytes | None:
    """g^xy as octets, or None when the peer's value has the wrong size or is degenerate."""
    prime = oakley_prime(key.group)
    if len(peer_public) != _octets(key.group):
        return None
    value = int.from_bytes(peer_public, "big")
    if not 1 < value < prime - 1:
        return None
    return pow(value, key.private, prime).to_bytes(_octets(key.group), "big")


# --- prf, hashes ---------------------------------------------------------------------------

_HASHES: Final = {"sha": "sha1", "md5": "md5"}


def hash_length(hash_name: str) -> int:
    """Octets of the hash (``sha``: 20, ``md5``: 16)."""
    return hashlib.new(_HASHES[hash_name]).digest_size


def digest(hash_name: str, data: bytes) -> bytes:
    """The plain hash of ``data``."""
    return hashlib.new(_HASHES[hash_name], data).digest()


def prf(hash_name: str, key: bytes, data: bytes) -> bytes:
    """The negotiated prf: HMAC with the negotiated hash (RFC 2409 §5)."""
    return hmac.new(key, data, _HASHES[hash_name]).digest()


def derive_skeyids(
    hash_name: str,
    *,
    psk: bytes,
    nonce_i: bytes,
    nonce_r: bytes,
    gxy: bytes,
    cookie_i: bytes,
    cookie_r: bytes,
) -> tuple[bytes, bytes, bytes, bytes]:
    """SKEYID, SKEYID_d, SKEYID_a, SKEYID_e for pre-shared key authentication (§5)."""
    skeyid = prf(hash_name, psk, nonce_i + nonce_r)
    cookies = cookie_i + cookie_r
    skeyid_d = prf(hash_name, skeyid, gxy + cookies + b"\x00")
    skeyid_a = prf(hash_name, skeyid, skeyid_d + gxy + cookies + b"\x01")
    skeyid_e = prf(hash_name, skeyid, skeyid_a + gxy + cookies + b"\x02")
    return skeyid, skeyid_d, skeyid_a, skeyid_e


def expand_key(hash_name: str, skeyid_e: bytes, length: int) -> bytes:
    """The phase-1 cipher key from SKEYID_e (Appendix B: K1 = prf(SKEYID_e, 0), ...)."""
    if len(skeyid_e) >= length:
        return skeyid_e[:length]
    blocks = [prf(hash_name, skeyid_e, b"\x00")]
    while sum(map(len, blocks)) < length:
        blocks.append(prf(hash_name, skeyid_e, blocks[-1]))
    return b"".join(blocks)[:length]


def keymat(
    hash_name: str,
    *,
    skeyid_d: bytes,
    protocol: int,
    spi: bytes,
    nonce_i: bytes,
    nonce_r: bytes,
    length: int,
    gxy: bytes = b"",
) -> bytes:
    """Quick Mode key material for one SA (§5.5): K1 ‖ K2 ‖ … cut to ``length``.

    ``spi`` is the SPI of the SA the material is for (chosen by its receiver); ``gxy``
    the Quick Mode Diffie-Hellman secret when PFS is on.
    """
    seed = gxy + bytes([protocol]) + spi + nonce_i + nonce_r
    blocks = [prf(hash_name, skeyid_d, seed)]
    while sum(map(len, blocks)) < length:
        blocks.append(prf(hash_name, skeyid_d, blocks[-1] + seed))
    return b"".join(blocks)[:length]


def phase1_iv(hash_name: str, public_i: bytes, public_r: bytes, block: int) -> bytes:
    """The first IV of phase 1: hash(g^xi ‖ g^xr), cut to the block size."""
    return digest(hash_name, public_i + public_r)[:block]


def phase2_iv(hash_name: str, last_phase1_block: bytes, message_id: int, block: int) -> bytes:
    """The first IV of a Quick Mode or Informational exchange: hash(last block ‖ M-ID)."""
    return digest(hash_name, last_phase1_block + message_id.to_bytes(4, "big"))[:block]


# --- ciphers ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IkeCipher:
    """A phase-1 cipher in CBC mode."""

    name: str
    """``des``, ``3des``, ``aes``, ``aes 192`` or ``aes 256`` (IOS policy names)."""
    key_length: int
    """Octets of key."""
    block: int
    """Octets per block (8 for DES/3DES, 16 for AES)."""

    def _cipher(self, key: bytes, iv: bytes) -> Cipher[modes.CBC]:
        if self.name.startswith("aes"):
            return Cipher(algorithms.AES(key), modes.CBC(iv))
        if TripleDES is None:  # pragma: no cover - depends on the installed build
            msg = f"{self.name}: this cryptography build has no TripleDES (decrepit) cipher"
            raise RuntimeError(msg)
        return Cipher(TripleDES(key * 3 if self.name == "des" else key), modes.CBC(iv))

    def encrypt(self, key: bytes, iv: bytes, plaintext: bytes) -> bytes:
        """CBC-encrypt ``plaintext`` padded with zeros to whole blocks."""
        padded = plaintext + bytes(-len(plaintext) % self.block)
        encryptor = self._cipher(key, iv).encryptor()
        return encryptor.update(padded) + encryptor.finalize()

    def decrypt(self, key: bytes, iv: bytes, ciphertext: bytes) -> bytes | None:
        """CBC-decrypt; None when the length is not a whole number of blocks."""
        if not ciphertext or len(ciphertext) % self.block:
            return None
        decryptor = self._cipher(key, iv).decryptor()
        return decryptor.update(ciphertext) + decryptor.finalize()


def cipher_named(name: str) -> IkeCipher:
    """The cipher for an IOS policy name (raises KeyError for another name)."""
    return _CIPHERS[name]


_CIPHERS: Final = {
    "des": IkeCipher("des", 8, 8),
    "3des": IkeCipher("3des", 24, 8),
    "aes": IkeCipher("aes", 16, 16),
    "aes 192": IkeCipher("aes 192", 24, 16),
    "aes 256": IkeCipher("aes 256", 32, 16),
}
