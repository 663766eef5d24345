"""What the catalog says of a medium: its kind (from the MediaType), whether it is offline, why immutability is unknown."""
from __future__ import annotations


def media_kind(media_type: str | None) -> str | None:
    m = (media_type or "").lower()
    for kind, words in (("vtl", ("vtl",)), ("cloud", ("cloud", "s3")), ("dedup", ("dedup", "aligned")),
                        ("tape", ("lto", "dlt", "tape", "dds", "ait", "3592", "t10k", "t10000")),
                        ("file", ("file", "disk"))):
        if any(w in m for w in words):
            return kind
    return None


# Bacula 9.6 (community) has no retention lock and no WORM flag in its catalog or its Storage/Device resources.
# What the catalog does say only binds Bacula itself: VolStatus Read-Only (Bacula reads, never writes it),
# Archive (kept, never pruned or recycled by Bacula), Used/Full (no more appends) and Recycle=no; an operator
# with a console, or anyone root on the storage daemon's host, can still change, purge or delete the volume
# (`update volume`, `delete volume`, rm). So none of them makes a copy immutable; the fact is left unknown.
IMMUTABLE_UNKNOWN = ("Bacula 9.6 reports no retention lock or WORM state for Storage {storage} or its volumes "
                     "(VolStatus Read-Only/Archive and Recycle=no only keep Bacula itself from writing or recycling "
                     "a volume); record the device's lock in the facts if the storage underneath provides one")


def volume_offline(media: dict, storage: dict) -> tuple[bool | None, str]:
    """Whether a volume is out of the backup server's reach, as far as the catalog knows (None: it cannot tell).

    Bacula's Autochanger chapter: Bacula uses a volume in an autochanger only when the catalog has its Slot and
    marks it InChanger; `update slots` (and each changer mount) clears InChanger for a volume that is not in the
    library's slots. So on an autochanger Storage, InChanger=0 means the cartridge (or a vchanger magazine) is
    out of the library: offline; InChanger=1 means it is inside: online. On any other Storage InChanger is not
    maintained (the director writes 0 for file volumes): the catalog says nothing of where the medium is.
    VolStatus Disabled / Enabled=0 (Bacula will not select the volume) and Archive / Enabled=2 (kept, not
    recycled) are operator markings about Bacula's use of the volume, not about where the medium is, so they do
    not decide it either (they are reported in bacula_volume).
    Disk, dedup and cloud volumes cannot be ejected: the core derives offline false for their devices.
    """
    if storage.get("autochanger"):
        flag = (media.get("InChanger") or "").strip()
        if flag in ("0", "1"):
            return flag == "0", ""
        return None, (f"volume {media.get('VolumeName')} on autochanger {storage.get('name')} has no readable "
                      f"InChanger ({flag[:20]!r})")
    kind = media_kind(storage.get("media_type"))
    if kind in ("file", "dedup", "cloud"):
        return None, ""  # derived by the core from the device
    return None, (f"Storage {storage.get('name')} is not an autochanger: Bacula records no location for volume "
                  f"{media.get('VolumeName')} (whether it is in the drive, on a shelf or in a vault)")
