package io.sandboxd.vmm.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KvmBackendTest {
    @TempDir
    Path modules;

    @Test
    void readsTheModuleThatServesDevKvm() throws IOException {
        assertEquals(KvmBackend.UNKNOWN, KvmBackend.detect(modules));
        Files.createDirectories(modules.resolve("kvm_amd"));
        assertEquals(KvmBackend.AMD, KvmBackend.detect(modules));
        Files.createDirectories(modules.resolve("kvm_intel"));
        assertEquals(KvmBackend.INTEL, KvmBackend.detect(modules));
        assertTrue(KvmBackend.INTEL.hardware());
    }

    @Test
    void pvmWinsOverAnUnboundHardwareModule() throws IOException {
        Files.createDirectories(modules.resolve("kvm_intel"));
        Files.createDirectories(modules.resolve("kvm_pvm"));
        assertEquals(KvmBackend.PVM, KvmBackend.detect(modules));
        assertFalse(KvmBackend.PVM.hardware());
    }
}
