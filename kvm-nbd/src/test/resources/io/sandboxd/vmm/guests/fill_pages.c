/*
 * Test guest, compiled at test time into a flat binary loaded at 0x1000 and entered in 64-bit mode (see
 * GuestCompiler): fills PAGES pages from 0x400000 with a pattern, reports a checksum of each page on the serial
 * port (4 bytes, little-endian), then a checksum of everything read back, then writes to port 0xf4 (done).
 * General registers only: PVM's instruction emulator has no SSE moves.
 */
#define PAGES 16
#define WORDS 512
static inline void outb(unsigned short port, unsigned char v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static void out32(unsigned int v) { for (int i = 0; i < 4; i++) outb(0x3f8, (unsigned char)(v >> (8 * i))); }
__attribute__((section(".text.entry"), noreturn)) void _start(void) {
    volatile unsigned long *mem = (volatile unsigned long *)0x400000;
    for (unsigned long p = 0; p < PAGES; p++) {
        unsigned long sum = 0;
        for (unsigned long i = 0; i < WORDS; i++) {
            unsigned long v = (p * 0x9E3779B97F4A7C15UL) ^ (i * 0xBF58476D1CE4E5B9UL);
            mem[p * WORDS + i] = v;
            sum += v * (i + 1);
        }
        out32((unsigned int)(sum ^ (sum >> 32)));
    }
    unsigned long total = 0;
    for (unsigned long k = 0; k < PAGES * WORDS; k++) total = (total << 1 | total >> 63) ^ mem[k];
    out32((unsigned int)(total ^ (total >> 32)));
    outb(0xf4, 0);
    for (;;) __asm__ volatile("hlt");
}
