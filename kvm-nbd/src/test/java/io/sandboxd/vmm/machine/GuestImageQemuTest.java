package io.sandboxd.vmm.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.vmm.net.NetnsTap;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The test guest we build, checked on a reference VMM: QEMU (software emulation, no KVM needed) boots it with a
 * virtio-mmio disk and network, and its /init must read the disk, answer over the network and keep what it writes.
 * This keeps the kernel config, the init and the disk image honest on hosts where our own VMM cannot run them
 * (no /dev/kvm); {@link MicroVmBootCycleTest} runs the same guest in our VMM where it can.
 */
class GuestImageQemuTest {
    @Test
    void theGuestBootsReadsItsDiskAndAnswersOverTheNetwork(@TempDir Path dir) throws Exception {
        Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "needs root for a network namespace");
        Path qemu = Path.of("/usr/bin/qemu-system-x86_64");
        Assumptions.assumeTrue(Files.isExecutable(qemu), "needs qemu-system-x86 (apt-get install qemu-system-x86)");
        Path guest = TestGuestBuild.guest();
        Path disk = dir.resolve("disk.ext2");
        Files.copy(guest.resolve("disk.ext2"), disk);
        Path log = dir.resolve("console.log");
        String ns = "sbxqemu" + ProcessHandle.current().pid();
        try (NetnsTap net = NetnsTap.create(ns, "tap0", BootTestCycle.HOST_CIDR)) {
            net.takeTap().close(); // QEMU opens the tap by name inside the namespace
            Process p = null;
            try {
                // the address is on the tap, which went with its fd: QEMU's tap gets it again below
                p = new ProcessBuilder("ip", "netns", "exec", ns, qemu.toString(), "-M",
                        "microvm,x-option-roms=off,rtc=off,acpi=off", "-accel", "tcg", "-cpu", "qemu64", "-m", "256",
                        "-nographic", "-no-reboot", "-kernel", guest.resolve("bzImage").toString(), "-initrd",
                        guest.resolve("initramfs.cpio").toString(), "-append",
                        Files.readString(guest.resolve("cmdline")).strip() + " sbxip=" + BootTestCycle.GUEST_IP,
                        "-drive", "id=d0,file=" + disk + ",format=raw,if=none", "-device", "virtio-blk-device,drive=d0",
                        "-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no,vnet_hdr=on",
                        "-device", "virtio-net-device,netdev=n0,mac=" + BootTestCycle.GUEST_MAC)
                        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
                waitFor(log, "tap0", 60, () -> tapExists(ns));
                NetnsTapAccess.ip("-n", ns, "addr", "add", BootTestCycle.HOST_CIDR, "dev", "tap0");
                NetnsTapAccess.ip("-n", ns, "link", "set", "tap0", "up");
                waitFor(log, "listening", 300, () -> Files.readString(log).contains(BootTestCycle.READY_LINE));
                String console = Files.readString(log);
                assertTrue(console.contains("sandboxd-init: disk says: data hello from the virtio-blk disk"), console);
                assertEquals("data hello from the virtio-blk disk", ask(net, "read hello.txt"));
                assertEquals("ok", ask(net, "write note.txt kept"));
                assertEquals("data kept", ask(net, "read note.txt"));
                assertTrue(ask(net, "ping").startsWith("pong "));
                assertEquals("error 22", ask(net, "read ../etc/passwd"));
                assertEquals("error unknown", ask(net, "rm -rf /"));
            } finally {
                if (p != null) {
                    p.destroyForcibly();
                    p.waitFor(30, TimeUnit.SECONDS);
                }
            }
        }
    }

    private static boolean tapExists(String ns) throws Exception {
        Process p = new ProcessBuilder("ip", "-n", ns, "link", "show", "tap0").redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        return p.waitFor() == 0;
    }

    interface Check {
        boolean done() throws Exception;
    }

    private static void waitFor(Path log, String what, int seconds, Check check) throws Exception {
        long deadline = System.nanoTime() + seconds * 1_000_000_000L;
        while (!check.done()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no " + what + " within " + seconds + " s; console:\n" + Files.readString(log));
            }
            Thread.sleep(200);
        }
    }

    private static String ask(NetnsTap net, String request) throws Exception {
        return net.call(() -> {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(BootTestCycle.GUEST_IP, BootTestCycle.GUEST_PORT), 10_000);
                s.setSoTimeout(60_000);
                s.getOutputStream().write((request + "\n").getBytes(StandardCharsets.US_ASCII));
                return new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII)).readLine();
            }
        });
    }

    /** iproute2 through the same helper the VMM uses. */
    static final class NetnsTapAccess {
        static void ip(String... args) throws java.io.IOException {
            List<String> cmd = new java.util.ArrayList<>(List.of("ip"));
            cmd.addAll(List.of(args));
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            try {
                if (p.waitFor() != 0) {
                    throw new java.io.IOException(String.join(" ", cmd) + ": " + out);
                }
            } catch (InterruptedException e) {
                throw new java.io.IOException(e);
            }
        }
    }
}
