package io.sandboxd.daemon.runtime.jail;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * The seccomp filter every jail gets: allow by default, refuse (EPERM) the system calls a sandbox has no business
 * making. Most of them would fail anyway for lack of a capability; the filter keeps the kernel code behind them
 * out of reach, which is what matters when the bug is in that code. Namespace creation is refused too
 * (unshare, setns, clone with a namespace flag): unprivileged user namespaces are a large attack surface and no
 * sandbox workload needs them. clone3 gets ENOSYS, not EPERM, so the C library falls back to clone, whose flags a
 * filter can see.
 */
final class SeccompProfile {
    private static final int EPERM = 1;
    private static final int ENOSYS = 38;
    /** CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET. */
    static final List<Long> CLONE_NAMESPACE_FLAGS = List.of(0x00020000L, 0x02000000L, 0x04000000L, 0x08000000L,
            0x10000000L, 0x20000000L, 0x40000000L);
    static final List<String> DENIED = List.of(
            // kernel modules, kexec, reboot, swap
            "init_module", "finit_module", "delete_module", "create_module", "kexec_load", "kexec_file_load", "reboot",
            "swapon", "swapoff",
            // mounts and namespaces
            "mount", "umount", "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount",
            "open_tree", "mount_setattr", "unshare", "setns",
            // clocks, accounting, kernel log, keyrings
            "settimeofday", "stime", "clock_settime", "clock_adjtime", "adjtimex", "acct", "syslog", "add_key",
            "request_key", "keyctl",
            // raw hardware and kernel internals
            "iopl", "ioperm", "bpf", "perf_event_open", "userfaultfd", "lookup_dcookie", "quotactl", "nfsservctl",
            "vhangup", "open_by_handle_at", "name_to_handle_at", "uselib", "ustat", "sysfs", "_sysctl",
            "get_kernel_syms", "query_module",
            // io_uring: a large, fast-moving kernel surface
            "io_uring_setup", "io_uring_enter", "io_uring_register");

    private SeccompProfile() {
    }

    static ObjectNode json() {
        JsonNodeFactory f = JsonNodeFactory.instance;
        ObjectNode root = f.objectNode();
        root.put("defaultAction", "SCMP_ACT_ALLOW");
        ArrayNode arch = root.putArray("architectures");
        arch.add("SCMP_ARCH_X86_64").add("SCMP_ARCH_X86").add("SCMP_ARCH_X32");
        ArrayNode rules = root.putArray("syscalls");
        ObjectNode deny = rules.addObject();
        ArrayNode names = deny.putArray("names");
        DENIED.forEach(names::add);
        deny.put("action", "SCMP_ACT_ERRNO");
        deny.put("errnoRet", EPERM);
        ObjectNode clone3 = rules.addObject();
        clone3.putArray("names").add("clone3");
        clone3.put("action", "SCMP_ACT_ERRNO");
        clone3.put("errnoRet", ENOSYS);
        // One rule per flag: conditions inside a rule are ANDed, rules are ORed.
        for (long flag : CLONE_NAMESPACE_FLAGS) {
            ObjectNode r = rules.addObject();
            r.putArray("names").add("clone");
            r.put("action", "SCMP_ACT_ERRNO");
            r.put("errnoRet", EPERM);
            ObjectNode arg = r.putArray("args").addObject();
            arg.put("index", 0);
            arg.put("value", flag);
            arg.put("valueTwo", flag);
            arg.put("op", "SCMP_CMP_MASKED_EQ");
        }
        return root;
    }
}
