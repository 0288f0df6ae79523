package io.sandboxd.vmm.devices.virtio;

/** Numbers from the virtio 1.x specification that more than one class here uses. */
public final class VirtioConstants {
    public static final long F_RING_INDIRECT_DESC = 1L << 28;
    public static final long F_RING_EVENT_IDX = 1L << 29;
    public static final long F_VERSION_1 = 1L << 32;

    public static final int STATUS_ACKNOWLEDGE = 1;
    public static final int STATUS_DRIVER = 2;
    public static final int STATUS_DRIVER_OK = 4;
    public static final int STATUS_FEATURES_OK = 8;
    public static final int STATUS_DEVICE_NEEDS_RESET = 64;
    public static final int STATUS_FAILED = 128;

    public static final int INTERRUPT_USED_BUFFER = 1;
    public static final int INTERRUPT_CONFIG_CHANGE = 2;

    public static final int DESC_F_NEXT = 1;
    public static final int DESC_F_WRITE = 2;
    public static final int DESC_F_INDIRECT = 4;

    private VirtioConstants() {
    }
}
