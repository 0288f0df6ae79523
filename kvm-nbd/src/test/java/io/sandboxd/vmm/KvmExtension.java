package io.sandboxd.vmm;

import io.sandboxd.vmm.kvm.KvmSystem;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * For test classes that need /dev/kvm ({@code @ExtendWith(KvmExtension.class)}): every test is skipped, the reason
 * printed, where KVM cannot be used; a test that declares a {@link KvmSystem} or {@link Vmm} parameter gets the
 * class's one instance, opened at the first such test and closed after the last test of the class, so its fd is
 * not counted as a leak by the tests that count fds and is not left open once the class is done.
 */
public final class KvmExtension implements BeforeEachCallback, ParameterResolver, AfterAllCallback {
    private static final Optional<String> UNAVAILABLE = KvmSystem.unavailableReason();

    private KvmSystem kvm;
    private Vmm vmm;

    @Override
    public void beforeEach(ExtensionContext context) {
        UNAVAILABLE.ifPresent(r -> System.out.println("SKIPPED (needs /dev/kvm): " + r));
        Assumptions.assumeTrue(UNAVAILABLE.isEmpty(), () -> "needs /dev/kvm: " + UNAVAILABLE.orElse(""));
    }

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        Class<?> type = parameter.getParameter().getType();
        return type == KvmSystem.class || type == Vmm.class;
    }

    @Override
    public synchronized Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        if (kvm == null) {
            kvm = KvmSystem.open();
            vmm = new Vmm(kvm);
        }
        return parameter.getParameter().getType() == Vmm.class ? vmm : kvm;
    }

    @Override
    public synchronized void afterAll(ExtensionContext context) {
        if (kvm != null) {
            kvm.close();
            kvm = null;
            vmm = null;
        }
    }
}
