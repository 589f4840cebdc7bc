#!/usr/bin/env python3
"""Marks version requirements of an ELF64 little-endian shared library as weak (VER_FLG_WEAK).

Why: TorchSharp 0.107.0's libLibTorchSharp.so requires GLIBCXX_3.4.32 (gcc 13's libstdc++), newer than the
libstdc++ of Debian 12, so the dynamic loader refuses to load it. The only symbol bound to that version is
std::ios_base_library_init(), a marker the library never calls (no relocation refers to it). A *weak* version
requirement that is missing is not an error for glibc's loader, so flipping the flag in the Verneed auxiliary
entry (.gnu.version_r) makes the library load; nothing else changes.

Usage: weaken_verneed.py LIBRARY VERSION [VERSION ...]
Edits LIBRARY (the benchmark's own build-output copy: never a system or NuGet-cache file) through a temporary
file and an atomic rename, so a hard link to the original is not modified. Idempotent; refuses to touch a
version that some relocation still needs.
"""
import os
import struct
import subprocess
import sys

VER_FLG_WEAK = 0x2
SHT_GNU_VERNEED = 0x6FFFFFFE


def patch(path, versions):
    with open(path, "rb") as f:
        data = bytearray(f.read())
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise SystemExit(f"{path}: not an ELF64 little-endian file")
    e_shoff, = struct.unpack_from("<Q", data, 0x28)
    e_shentsize, e_shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = []
    for i in range(e_shnum):
        off = e_shoff + i * e_shentsize
        sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link, sh_info = struct.unpack_from("<IIQQQQII", data, off)
        sections.append((sh_type, sh_offset, sh_size, sh_link, sh_info))
    verneed = [s for s in sections if s[0] == SHT_GNU_VERNEED]
    if not verneed:
        raise SystemExit(f"{path}: no .gnu.version_r section")
    _, vn_off, _, link, count = verneed[0]
    strtab_off = sections[link][1]

    def name_at(offset):
        end = data.index(b"\0", strtab_off + offset)
        return data[strtab_off + offset:end].decode()

    wanted = set(versions)
    changed, found = [], set()
    entry = vn_off
    for _ in range(count):
        vn_version, vn_cnt, vn_file, vn_aux, vn_next = struct.unpack_from("<HHIII", data, entry)
        aux = entry + vn_aux
        for _ in range(vn_cnt):
            vna_hash, vna_flags, vna_other, vna_name, vna_next = struct.unpack_from("<IHHII", data, aux)
            name = name_at(vna_name)
            if name in wanted:
                found.add(name)
                if not vna_flags & VER_FLG_WEAK:
                    struct.pack_into("<H", data, aux + 4, vna_flags | VER_FLG_WEAK)
                    changed.append(f"{name_at(vn_file)}:{name}")
            if vna_next == 0:
                break
            aux += vna_next
        if vn_next == 0:
            break
        entry += vn_next
    missing = wanted - found
    if missing:
        raise SystemExit(f"{path}: no version requirement named {', '.join(sorted(missing))}")
    # Safety: no relocation may bind a symbol of a version we weaken (it would then resolve to nothing).
    relocs = subprocess.run(["readelf", "-W", "-r", path], capture_output=True, text=True).stdout
    for v in wanted:
        if "@" + v in relocs:
            raise SystemExit(f"{path}: a relocation still uses a symbol of version {v}; weakening it would be unsafe")
    if changed:
        tmp = path + ".weaken-tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.chmod(tmp, os.stat(path).st_mode)
        os.replace(tmp, path)
        print(f"{path}: marked weak: {', '.join(changed)}")
    else:
        print(f"{path}: already weak: {', '.join(sorted(found))}")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    patch(sys.argv[1], sys.argv[2:])
