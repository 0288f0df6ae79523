package io.sandboxd.ffi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.ffi.headers.HeaderCheck;
import java.lang.foreign.StructLayout;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import org.junit.jupiter.api.Test;

class KvmHeadersTest {
    /**
     * Every struct layout in {@link Kvm} (by its C name) and every public int/long constant (ioctl numbers
     * included) against {@code kvm.c}. Constants are collected by reflection so that a new one cannot be added
     * without the probe printing it.
     */
    @Test
    void kvmMatchesTheSystemHeaders() throws Exception {
        HeaderCheck check = new HeaderCheck("kvm");
        int constants = 0;
        for (Field f : Kvm.class.getFields()) {
            if (!Modifier.isStatic(f.getModifiers())) {
                continue;
            }
            if (f.getType() == int.class) {
                check.constant(f.getName(), f.getInt(null));
                constants++;
            } else if (f.getType() == long.class) {
                check.constant(f.getName(), f.getLong(null));
                constants++;
            } else if (f.get(null) instanceof StructLayout s) {
                check.struct(s.name().orElseThrow(() -> new AssertionError(f.getName() + " has no C name")), s);
            }
        }
        assertTrue(check.structCount() >= 30, "structs registered: " + check.structCount());
        assertTrue(constants >= 100, "constants registered: " + constants);
        check.verify();
    }

    @Test
    void ioctlNumbersAreTheOnesFromTheKernelDocumentation() {
        // Spot checks of the formula against values quoted in Documentation/virt/kvm/api.rst and seen in strace.
        assertEquals(0xAE01L, Kvm.KVM_CREATE_VM);
        assertEquals(0xAE80L, Kvm.KVM_RUN);
        assertEquals(0x8090AE81L, Kvm.KVM_GET_REGS);
        assertEquals(0x4020AE46L, Kvm.KVM_SET_USER_MEMORY_REGION);
    }
}
