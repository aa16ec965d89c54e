"""Signs SNS messages for a local runner that has no route to SNS (the schemathesis run).

`python tools/sns_signing.py DIR` makes a signing key (DIR/signing-key.key) and its
certificate, named as SNS names its own (DIR/SimpleNotificationService-<32 hex>.pem); start the
runner with NHIP_SNS_CERTIFICATE_DIR=DIR and it verifies messages signed with `sign` without
downloading anything. The key never leaves the test machine's temporary folder.
"""

import base64
import datetime
import glob
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

KEY_FILE = "signing-key.key"
REGION_HOST = "sns.ap-southeast-1.amazonaws.com"


def make(folder):
    os.makedirs(folder, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, REGION_HOST)])
    start = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start.replace(year=2040))
        .sign(key, hashes.SHA256())
    )
    with open(os.path.join(folder, KEY_FILE), "wb") as out:
        out.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    fingerprint = cert.fingerprint(hashes.SHA256()).hex()[:32]
    with open(os.path.join(folder, f"SimpleNotificationService-{fingerprint}.pem"), "wb") as out:
        out.write(cert.public_bytes(serialization.Encoding.PEM))


def string_to_sign(message):
    """SNS's canonical string (what shared/messaging/src/sns.rs checks)."""
    if message["Type"] == "Notification":
        names = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        names = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    return "".join(f"{name}\n{message[name]}\n" for name in names if message.get(name) is not None)


def sign(message, folder):
    """Signs `message` (a dict, changed in place) with SignatureVersion 2."""
    with open(os.path.join(folder, KEY_FILE), "rb") as key_file:
        key = serialization.load_pem_private_key(key_file.read(), password=None)
    (cert,) = glob.glob(os.path.join(folder, "SimpleNotificationService-*.pem"))
    message["SignatureVersion"] = "2"
    message["SigningCertURL"] = f"https://{REGION_HOST}/{os.path.basename(cert)}"
    signature = key.sign(string_to_sign(message).encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    message["Signature"] = base64.b64encode(signature).decode()


if __name__ == "__main__":
    make(sys.argv[1])
