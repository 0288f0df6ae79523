package io.sandboxd.vmm.kvm;

import java.util.Objects;

/**
 * One device's saved state inside a machine state: the device's name (unique in the machine) and the bytes its
 * {@code saveState} produced. The bytes are opaque here; the device validates them when it takes them back.
 */
public record DeviceState(String name, byte[] state) {
    public static final int MAX_NAME_BYTES = 128;

    public DeviceState {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(state, "state");
        if (name.isEmpty() || name.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > MAX_NAME_BYTES) {
            throw new IllegalArgumentException("a device name has 1.." + MAX_NAME_BYTES + " bytes: '" + name + "'");
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DeviceState d && d.name.equals(name) && java.util.Arrays.equals(d.state, state);
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + java.util.Arrays.hashCode(state);
    }

    @Override
    public String toString() {
        return "DeviceState[" + name + ", " + state.length + " bytes]";
    }
}
