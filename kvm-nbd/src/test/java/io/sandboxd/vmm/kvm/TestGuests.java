package io.sandboxd.vmm.kvm;

/** Hand-assembled 64-bit test programs (loaded at {@link TestVm#CODE}, entered in long mode). */
public final class TestGuests {
    public static final int ITERATIONS = 40;
    /** Where {@link #COUNTING_LOOP} stores its accumulator, one u64 per iteration. */
    public static final long DATA = 0x200000;

    private TestGuests() {
    }

    /**
     * 40 iterations of: rbx = rol(rbx + i, 5); data[i] = rbx; xmm0 = data[i..i+1]; out 0x3f8, bl. Then rax = xmm0[0] (through
     * memory: PVM's emulator has no movq between xmm and general registers) and
     * out 0xf4 (done). Uses general registers, memory, an SSE register (XSAVE state) and port I/O, so a restore
     * that loses any of them changes the output or the final registers.
     */
    public static final byte[] COUNTING_LOOP = countingLoop(0);

    /**
     * {@link #COUNTING_LOOP} with a busy loop of {@code delay} iterations after each output ({@code delay} 0: none),
     * so that a kick lands in the middle of guest code rather than after the last output.
     */
    public static byte[] countingLoop(int delay) {
        java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
        b.writeBytes(new byte[] {
            0x31, (byte) 0xc9,                                                    // xor ecx, ecx
            0x48, (byte) 0xbb, 0x45, 0x23, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,    // mov rbx, 0x12345
            0x66, (byte) 0xba, (byte) 0xf8, 0x03,                                 // mov dx, 0x3f8
        });
        int loop = b.size();
        b.writeBytes(new byte[] {
            0x48, 0x01, (byte) 0xcb,                                              // loop: add rbx, rcx
            0x48, (byte) 0xc1, (byte) 0xc3, 0x05,                                 // rol rbx, 5
            0x48, (byte) 0x89, 0x1c, (byte) 0xcd, 0x00, 0x00, 0x20, 0x00,         // mov [rcx*8 + 0x200000], rbx
            (byte) 0xf3, 0x0f, 0x6f, 0x04, (byte) 0xcd, 0x00, 0x00, 0x20, 0x00,   // movdqu xmm0, [rcx*8 + 0x200000]
            (byte) 0x88, (byte) 0xd8,                                             // mov al, bl
            (byte) 0xee,                                                          // out dx, al
        });
        if (delay > 0) {
            b.writeBytes(new byte[] {
                (byte) 0xbe, (byte) delay, (byte) (delay >> 8), (byte) (delay >> 16), (byte) (delay >> 24), // mov esi, delay
                (byte) 0xff, (byte) 0xce,                                         // delay: dec esi
                0x75, (byte) 0xfc,                                                // jnz delay
            });
        }
        b.writeBytes(new byte[] {
            (byte) 0xff, (byte) 0xc1,                                             // inc ecx
            (byte) 0x83, (byte) 0xf9, ITERATIONS,                                 // cmp ecx, 40
        });
        int rel = loop - (b.size() + 2);
        b.writeBytes(new byte[] {0x75, (byte) rel});                              // jne loop
        b.writeBytes(new byte[] {
            (byte) 0xf3, 0x0f, 0x7f, 0x04, 0x25, 0x00, 0x00, 0x30, 0x00,          // movdqu [0x300000], xmm0
            0x48, (byte) 0x8b, 0x04, 0x25, 0x00, 0x00, 0x30, 0x00,                // mov rax, [0x300000]
            (byte) 0xe6, (byte) TestVm.DONE_PORT,                                 // out 0xf4, al
        });
        return b.toByteArray();
    }
}
