#!/usr/bin/env bash
# Builds the sandboxd test guest, cached: a small kernel from Debian's linux-source (tinyconfig + our fragment),
# a freestanding static /init of ours, an initramfs holding it, and an ext2 disk with a known file.
#
#   guest/build-guest.sh [--cache-dir DIR]
#
# Prints progress on stderr and the output directory on the last line of stdout. Outputs in that directory:
# vmlinux (ELF), bzImage, initramfs.cpio, disk.ext2, cmdline (the kernel command line the guest is meant to get,
# before the VMM adds its virtio-mmio devices). The cache key covers the config fragment, the init sources, this
# script and the linux-source package version, so a change to any of them rebuilds; a second run costs ~10 ms.
#
# Debian packages: linux-source flex bison bc libelf-dev libssl-dev make gcc libc6-dev cpio e2fsprogs xz-utils
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${SANDBOXD_GUEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sandboxd/guest}"
while [ $# -gt 0 ]; do
  case "$1" in
    --cache-dir) cache_root="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "build-guest: unknown argument $1" >&2; exit 2 ;;
  esac
done

need() { command -v "$1" >/dev/null 2>&1 || { echo "build-guest: '$1' is missing (apt-get install $2)" >&2; exit 3; }; }
need gcc gcc; need make make; need flex flex; need bison bison; need bc bc; need cpio cpio; need mke2fs e2fsprogs
need xz xz-utils; need objdump binutils
src_tar="$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -1 || true)"
[ -n "$src_tar" ] || { echo "build-guest: no /usr/src/linux-source-*.tar.xz (apt-get install linux-source)" >&2; exit 3; }
[ -f /usr/include/libelf.h ] || { echo "build-guest: libelf headers missing (apt-get install libelf-dev)" >&2; exit 3; }
src_version="$(dpkg-query -W -f='${Version}' linux-source 2>/dev/null || basename "$src_tar")"

key="$( { cat "$here/kernel/sandboxd-test.config" "$here/init/init.c" "$here/build-guest.sh"; echo "$src_version"; } \
  | sha256sum | cut -c1-16)"
out="$cache_root/$key"
if [ -f "$out/.complete" ]; then echo "$out"; exit 0; fi

mkdir -p "$cache_root"
exec 9>"$cache_root/.lock"
echo "build-guest: waiting for the cache lock ($cache_root/.lock)" >&2
flock 9
if [ -f "$out/.complete" ]; then echo "$out"; exit 0; fi
start=$(date +%s)
work="$cache_root/work-$key"
rm -rf "$work" "$out"; mkdir -p "$work" "$out.tmp"

echo "build-guest: unpacking $(basename "$src_tar")" >&2
tar -C "$work" -xf "$src_tar"
ksrc="$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'linux-source-*' | head -1)"
cd "$ksrc"
# PVM hosts run this (non-PVM) kernel in KVM's instruction emulator, which emulates int3 only in real mode: the
# boot-time int3 self-test in alternative_instructions() would stop the guest there (KVM_INTERNAL_ERROR_EMULATION at
# int3_selftest_ip). Nothing else in this config executes int3 on purpose (no kprobes, ftrace or BPF), so the test
# kernel skips the self-test; hardware KVM never needed it skipped.
alt=arch/x86/kernel/alternative.c
grep -q "^$(printf '\t')int3_selftest();\$" "$alt" \
  || { echo "build-guest: $alt no longer calls int3_selftest() as expected; update this patch" >&2; exit 4; }
sed -i "s|^$(printf '\t')int3_selftest();\$|$(printf '\t')if (0) int3_selftest(); /* sandboxd: skipped, see guest/build-guest.sh */|" "$alt"
echo "build-guest: configuring (tinyconfig + guest/kernel/sandboxd-test.config)" >&2
make -s tinyconfig >&2
./scripts/kconfig/merge_config.sh -m .config "$here/kernel/sandboxd-test.config" >/dev/null
make -s olddefconfig >&2
missing=0
while IFS= read -r line; do
  case "$line" in ''|\#*) continue ;; esac
  opt="${line%%=*}"; want="${line#*=}"
  if [ "$want" = n ]; then
    grep -q "^$opt=" .config && { echo "build-guest: $opt is set but the fragment turns it off" >&2; missing=1; }
  else
    grep -qx "$opt=$want" .config || { echo "build-guest: $opt=$want did not make it into .config" >&2; missing=1; }
  fi
done < "$here/kernel/sandboxd-test.config"
[ "$missing" = 0 ] || exit 4
echo "build-guest: building the kernel with $(nproc) jobs (about 4-8 minutes on 2 cores)" >&2
make -s -j"$(nproc)" vmlinux bzImage >&2
cp vmlinux "$out.tmp/vmlinux"
cp arch/x86/boot/bzImage "$out.tmp/bzImage"
cp .config "$out.tmp/kernel.config"

echo "build-guest: building /init" >&2
cd "$work"
gcc -Os -static -nostdlib -ffreestanding -fno-builtin -fno-pie -no-pie -fno-stack-protector \
  -fno-asynchronous-unwind-tables -mgeneral-regs-only -mno-sse -mno-mmx -mno-80387 -mno-red-zone \
  -fno-tree-loop-distribute-patterns -Wl,--build-id=none -o init "$here/init/init.c"
# Instructions this host's emulator does not run, and any vector register: none may appear in /init.
if objdump -d init | grep -E -i '\b(popcnt|xsave[a-z]*|xrstor[a-z]*|fwait|wait|cmpxchg16b|clac|stac)\b|%[xyz]mm[0-9]'; then
  echo "build-guest: /init contains instructions the emulator cannot run (above)" >&2; exit 5
fi

mkdir -p initramfs/dev initramfs/mnt initramfs/proc initramfs/sys
cp init initramfs/init
# /dev/console must exist before devtmpfs is mounted: the kernel opens it for init's stdin/stdout/stderr.
mknod -m 600 initramfs/dev/console c 5 1
( cd initramfs && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 ) \
  > "$out.tmp/initramfs.cpio"

mkdir -p disk
echo "hello from the virtio-blk disk" > disk/hello.txt
mke2fs -q -t ext2 -F -L sbxdisk -E root_owner=0:0 -d disk "$out.tmp/disk.ext2" 8M

echo "console=ttyS0 earlyprintk=serial,ttyS0,115200 nokaslr noxsave nopku clocksource=kvm-clock tsc=reliable lpj=1000000 no_timer_check nosmp mitigations=off panic=-1 i8042.noaux i8042.nomux i8042.dumbkbd" > "$out.tmp/cmdline"
cp "$here/init/init.c" "$out.tmp/init.c"
rm -rf "$work"
touch "$out.tmp/.complete"
mv "$out.tmp" "$out"
echo "build-guest: done in $(( $(date +%s) - start )) s" >&2
echo "$out"
