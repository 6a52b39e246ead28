"""PyInstaller runtime hook for Hark: system certificates, and the bundled PortAudio.

Runs in the frozen app before ``app`` is imported.

Certificates: the bundled OpenSSL looks for CA certificates where the build machine's
OpenSSL kept them (``ssl.get_default_verify_paths()``). That place may not exist on the
user's machine: python.org's macOS build points into its own framework folder, and a
build on Debian/Ubuntu points to ``/usr/lib/ssl``, which Fedora or openSUSE do not
have. Then every ``wss://`` connection fails certificate verification. When that
default is missing and the user set neither ``SSL_CERT_FILE`` nor ``SSL_CERT_DIR``,
point ``SSL_CERT_FILE`` at the system's bundle (the places Go's crypto/x509 searches).
Windows needs nothing: Python reads the Windows certificate store.

PortAudio (Linux): sounddevice finds its library with ``ctypes.util.find_library``,
which asks the system's linker cache and returns None on a machine without
libportaudio2, although the build bundles a copy next to the app. Fall back to that
copy; a system PortAudio, when there is one, still wins (it matches the system's ALSA
and JACK set-up).
"""

import ctypes.util
import os
import ssl
import sys

CA_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Arch, Gentoo
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL
    "/etc/ssl/ca-bundle.pem",  # openSUSE
    "/etc/pki/tls/cacert.pem",  # OpenELEC
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  # CentOS, RHEL 7
    "/etc/ssl/cert.pem",  # macOS, Alpine, FreeBSD
)
BUNDLED_LIBRARIES = ("portaudio",)


def use_system_certificates(environ=os.environ, platform=sys.platform, bundles=CA_BUNDLES):
    """Set ``SSL_CERT_FILE`` when OpenSSL's compiled-in default is missing here."""
    if platform == "win32" or "SSL_CERT_FILE" in environ or "SSL_CERT_DIR" in environ:
        return
    paths = ssl.get_default_verify_paths()
    if paths.cafile or (paths.capath and os.listdir(paths.capath)):
        return  # the build machine's default exists here too
    for bundle in bundles:
        if os.path.isfile(bundle):
            environ["SSL_CERT_FILE"] = bundle
            return


def bundled_library(name, folder):
    """The bundled ``lib<name>.so*`` in ``folder``, or None."""
    prefix = f"lib{name}.so"
    try:
        candidates = sorted(f for f in os.listdir(folder) if f.startswith(prefix))
    except OSError:
        return None
    return os.path.join(folder, candidates[0]) if candidates else None


def prefer_bundled_libraries(folder, names=BUNDLED_LIBRARIES):
    """Make ``ctypes.util.find_library`` fall back to the bundled copies of ``names``."""
    original = ctypes.util.find_library

    def find_library(name):
        found = original(name)
        if found is None and name in names:
            found = bundled_library(name, folder)
        return found

    ctypes.util.find_library = find_library


if getattr(sys, "frozen", False):
    use_system_certificates()
    if sys.platform.startswith("linux"):
        prefer_bundled_libraries(sys._MEIPASS)
