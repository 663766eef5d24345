"""Host naming and where a .bsr pipe, a RunScript or a mount sends the bootstrap."""
from __future__ import annotations

import pytest
from policycheck_bacula.hosts import HostNamer, command_destinations, mount_of


@pytest.mark.parametrize("command,hosts", [
    ("| /usr/bin/scp /dev/stdin bacula@vault.example.com:/bsr/%n.bsr", ["vault.example.com"]),
    ("|rsync -a /var/lib/bacula/BackupCatalog.bsr backup@10.1.2.3:/srv/bsr/", ["10.1.2.3"]),
    ('|/usr/sbin/bsmtp -h mail.example.com -f "(Bacula) <bacula@dir>" -s "Bootstrap" ops@example.com',
     ["mail.example.com", "example.com"]),
    ("|/usr/sbin/bsmtp -h localhost -f bacula@localhost -s bsr root@localhost",
     ["localhost", "localhost"]),
    ("ssh -i /etc/bacula/key vault 'cat > /bsr/x.bsr' < /var/lib/bacula/x.bsr", ["vault"]),
    ("curl -T /var/lib/bacula/x.bsr https://store.example.net/bsr/", ["store.example.net"]),
    ("/etc/bacula/scripts/delete_catalog_backup", []),
    ("cp /var/lib/bacula/x.bsr /mnt/usb/", []),
    ("| cat > /tmp/x.bsr", []),
])
def test_command_destinations(command, hosts):
    assert command_destinations(command) == hosts


MOUNTS = """overlay / overlay rw 0 0
tmpfs /tmp tmpfs rw 0 0
nas01:/export/bsr /mnt/bsr nfs4 rw,relatime 0 0
//filer/share /mnt/smb cifs rw 0 0
"""


def test_mount_of():
    assert mount_of("/mnt/bsr/BackupCatalog.bsr", MOUNTS) == ("nas01:/export/bsr", "/mnt/bsr", "nfs4")
    assert mount_of("/var/lib/bacula/x.bsr", MOUNTS)[2] == "overlay"
    assert mount_of("/mnt/bsrx/y", MOUNTS)[1] == "/"
    assert mount_of("/tmp/a", MOUNTS)[2] == "tmpfs"


def test_host_namer_compares_by_address():
    n = HostNamer("127.0.0.1", "backup01.test")
    assert n.director_id == "backup01.test"
    assert n.is_director_host("localhost") and n.is_director_host("127.0.0.1") and n.is_director_host("BACKUP01.test")
    assert not n.is_director_host("127.0.0.2")  # another loopback address stands for another machine
    assert n.host_id("localhost") == "backup01.test" and n.host_id("127.0.0.2") == "127.0.0.2"
    assert not n.is_director_host("") and not n.is_director_host(None)
    assert HostNamer("Dir.Example.COM").director_id == "dir.example.com"
