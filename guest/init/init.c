/*
 * PID 1 of the sandboxd test guest: no libc, raw system calls, built so that no instruction outside the baseline
 * integer x86-64 set is emitted (see build-guest.sh, which checks the binary).
 *
 * What it does, logging each step to the kernel log (/dev/kmsg, so it reaches the serial console through printk):
 *   1. mounts devtmpfs on /dev and proc on /proc;
 *   2. mounts /dev/vda (ext2) read-write on /mnt and logs /mnt/hello.txt;
 *   3. brings up lo and eth0 with the address in `sbxip=` (and netmask `sbxmask=`, default 255.255.255.0), both
 *      handed to init by the kernel as environment variables (unknown `key=value` parameters without a dot);
 *   4. listens on TCP port 8080 and answers one request line per connection:
 *        ping               -> pong <n>      (n counts requests since boot: a restored guest goes on counting)
 *        read <name>        -> data <first line of /mnt/<name>> | error <errno>
 *        write <name> <txt> -> ok | error <errno>  (written, fsynced, synced)
 *        anything else      -> error unknown
 *      Names with '/' or starting with '.' are refused (error 22).
 * PID 1 must never exit (the kernel would panic): on a fatal error it logs and sleeps forever.
 */

typedef unsigned long u64;
typedef long s64;

#define SYS_read 0
#define SYS_write 1
#define SYS_open 2
#define SYS_close 3
#define SYS_ioctl 16
#define SYS_nanosleep 35
#define SYS_socket 41
#define SYS_accept 43
#define SYS_bind 49
#define SYS_listen 50
#define SYS_setsockopt 54
#define SYS_fsync 74
#define SYS_mkdir 83
#define SYS_sync 162
#define SYS_mount 165

#define O_RDONLY 0
#define O_WRONLY 1
#define O_RDWR 2
#define O_CREAT 0100
#define O_TRUNC 01000
#define O_CLOEXEC 02000000

#define EINTR 4
#define EINVAL 22

#define AF_INET 2
#define SOCK_STREAM 1
#define SOL_SOCKET 1
#define SO_REUSEADDR 2
#define SIOCSIFFLAGS 0x8914
#define SIOCSIFADDR 0x8916
#define SIOCSIFNETMASK 0x891c
#define IFF_UP 0x1

static s64 syscall6(s64 n, s64 a, s64 b, s64 c, s64 d, s64 e, s64 f) {
    s64 ret;
    register s64 r10 __asm__("r10") = d;
    register s64 r8 __asm__("r8") = e;
    register s64 r9 __asm__("r9") = f;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}
#define sys3(n, a, b, c) syscall6(n, (s64)(a), (s64)(b), (s64)(c), 0, 0, 0)
#define sys5(n, a, b, c, d, e) syscall6(n, (s64)(a), (s64)(b), (s64)(c), (s64)(d), (s64)(e), 0)

static u64 str_len(const char *s) {
    u64 n = 0;
    while (s[n]) {
        n++;
    }
    return n;
}

static int starts_with(const char *s, const char *prefix) {
    while (*prefix) {
        if (*s++ != *prefix++) {
            return 0;
        }
    }
    return 1;
}

static void mem_set(void *p, int v, u64 n) {
    unsigned char *c = p;
    while (n--) {
        *c++ = (unsigned char)v;
    }
}

static void mem_copy(void *dst, const void *src, u64 n) {
    unsigned char *d = dst;
    const unsigned char *s = src;
    while (n--) {
        *d++ = *s++;
    }
}

/* A line builder: text appended to a fixed buffer, never past its end. */
struct line {
    char buf[512];
    u64 len;
};

static void put(struct line *l, const char *s) {
    while (*s && l->len < sizeof(l->buf) - 2) {
        l->buf[l->len++] = *s++;
    }
}

static void put_n(struct line *l, const char *s, u64 n) {
    for (u64 i = 0; i < n && l->len < sizeof(l->buf) - 2; i++) {
        l->buf[l->len++] = s[i];
    }
}

static void put_u(struct line *l, u64 v) {
    char tmp[24];
    int i = 0;
    do {
        tmp[i++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (i) {
        char c[2] = {tmp[--i], 0};
        put(l, c);
    }
}

static int kmsg = -1;

static void log_line(struct line *l) {
    struct line out = {.len = 0};
    put(&out, "<6>sandboxd-init: ");
    put_n(&out, l->buf, l->len);
    out.buf[out.len++] = '\n';
    if (kmsg >= 0) {
        sys3(SYS_write, kmsg, out.buf, out.len);
    } else {
        sys3(SYS_write, 1, out.buf + 3, out.len - 3); /* the console, before /dev is mounted */
    }
}

static void log_s(const char *a, const char *b) {
    struct line l = {.len = 0};
    put(&l, a);
    if (b) {
        put(&l, b);
    }
    log_line(&l);
}

static void log_err(const char *what, s64 err) {
    struct line l = {.len = 0};
    put(&l, what);
    put(&l, " failed: errno ");
    put_u(&l, (u64)-err);
    log_line(&l);
}

static void sleep_forever(void) {
    for (;;) {
        s64 ts[2] = {3600, 0};
        sys3(SYS_nanosleep, ts, 0, 0);
    }
}

static void fatal(const char *what, s64 err) {
    log_err(what, err);
    log_s("giving up; sleeping forever", 0);
    sleep_forever();
}

static const char *env_get(char **envp, const char *key) {
    u64 k = str_len(key);
    for (; *envp; envp++) {
        if (starts_with(*envp, key) && (*envp)[k] == '=') {
            return *envp + k + 1;
        }
    }
    return 0;
}

/* Dotted quad to a network-order u32; 0 on a malformed address. */
static unsigned int parse_ipv4(const char *s) {
    unsigned int parts[4];
    for (int i = 0; i < 4; i++) {
        unsigned int v = 0;
        int digits = 0;
        while (*s >= '0' && *s <= '9' && digits < 4) {
            v = v * 10 + (unsigned int)(*s++ - '0');
            digits++;
        }
        if (digits == 0 || v > 255 || (i < 3 && *s++ != '.')) {
            return 0;
        }
        parts[i] = v;
    }
    if (*s) {
        return 0;
    }
    return parts[0] | parts[1] << 8 | parts[2] << 16 | parts[3] << 24;
}

struct sockaddr_in4 {
    unsigned short family;
    unsigned short port; /* network order */
    unsigned int addr;   /* network order */
    unsigned char zero[8];
};

struct ifreq4 {
    char name[16];
    union {
        struct sockaddr_in4 addr;
        short flags;
        unsigned char pad[24];
    } u;
};

static s64 if_set(int sock, const char *name, unsigned long request, unsigned int addr, short flags) {
    struct ifreq4 r;
    mem_set(&r, 0, sizeof(r));
    mem_copy(r.name, name, str_len(name) + 1);
    if (request == SIOCSIFFLAGS) {
        r.u.flags = flags;
    } else {
        r.u.addr.family = AF_INET;
        r.u.addr.addr = addr;
    }
    return sys3(SYS_ioctl, sock, request, &r);
}

static void network_up(char **envp) {
    const char *ip = env_get(envp, "sbxip");
    const char *mask = env_get(envp, "sbxmask");
    int sock = (int)sys3(SYS_socket, AF_INET, SOCK_STREAM, 0);
    if (sock < 0) {
        fatal("socket", sock);
    }
    s64 r = if_set(sock, "lo", SIOCSIFFLAGS, 0, IFF_UP);
    if (r < 0) {
        log_err("bringing up lo", r);
    }
    if (!ip) {
        log_s("no sbxip= on the kernel command line: eth0 stays down", 0);
        sys3(SYS_close, sock, 0, 0);
        return;
    }
    unsigned int addr = parse_ipv4(ip);
    unsigned int netmask = parse_ipv4(mask ? mask : "255.255.255.0");
    if (!addr || !netmask) {
        fatal("parsing sbxip/sbxmask", -EINVAL);
    }
    if ((r = if_set(sock, "eth0", SIOCSIFADDR, addr, 0)) < 0) {
        fatal("setting the address of eth0", r);
    }
    if ((r = if_set(sock, "eth0", SIOCSIFNETMASK, netmask, 0)) < 0) {
        fatal("setting the netmask of eth0", r);
    }
    if ((r = if_set(sock, "eth0", SIOCSIFFLAGS, 0, IFF_UP)) < 0) {
        fatal("bringing up eth0", r);
    }
    sys3(SYS_close, sock, 0, 0);
    log_s("eth0 is up at ", ip);
}

static int valid_name(const char *name, u64 n) {
    if (n == 0 || n > 64 || name[0] == '.') {
        return 0;
    }
    for (u64 i = 0; i < n; i++) {
        if (name[i] == '/' || name[i] == 0) {
            return 0;
        }
    }
    return 1;
}

/* "/mnt/" + name, NUL-terminated, into path (room for 80 bytes). */
static void mnt_path(char *path, const char *name, u64 n) {
    mem_copy(path, "/mnt/", 5);
    mem_copy(path + 5, name, n);
    path[5 + n] = 0;
}

static void answer(struct line *reply, char *req, u64 n, u64 served) {
    if (n == 4 && starts_with(req, "ping")) {
        put(reply, "pong ");
        put_u(reply, served);
        return;
    }
    if (n > 5 && starts_with(req, "read ")) {
        char path[80];
        if (!valid_name(req + 5, n - 5)) {
            put(reply, "error 22");
            return;
        }
        mnt_path(path, req + 5, n - 5);
        int fd = (int)sys3(SYS_open, path, O_RDONLY | O_CLOEXEC, 0);
        if (fd < 0) {
            put(reply, "error ");
            put_u(reply, (u64)-fd);
            return;
        }
        char data[256];
        s64 got = sys3(SYS_read, fd, data, sizeof(data));
        sys3(SYS_close, fd, 0, 0);
        if (got < 0) {
            put(reply, "error ");
            put_u(reply, (u64)-got);
            return;
        }
        u64 len = 0;
        while (len < (u64)got && data[len] != '\n') {
            len++;
        }
        put(reply, "data ");
        put_n(reply, data, len);
        return;
    }
    if (n > 6 && starts_with(req, "write ")) {
        char *name = req + 6;
        u64 name_len = 0;
        while (6 + name_len < n && name[name_len] != ' ') {
            name_len++;
        }
        if (!valid_name(name, name_len) || 6 + name_len >= n) {
            put(reply, "error 22");
            return;
        }
        char *text = name + name_len + 1;
        u64 text_len = n - 6 - name_len - 1;
        char path[80];
        mnt_path(path, name, name_len);
        int fd = (int)sys3(SYS_open, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            put(reply, "error ");
            put_u(reply, (u64)-fd);
            return;
        }
        char nl = '\n';
        s64 w = sys3(SYS_write, fd, text, text_len);
        if (w >= 0) {
            w = sys3(SYS_write, fd, &nl, 1);
        }
        if (w >= 0) {
            w = sys3(SYS_fsync, fd, 0, 0);
        }
        sys3(SYS_close, fd, 0, 0);
        sys3(SYS_sync, 0, 0, 0);
        if (w < 0) {
            put(reply, "error ");
            put_u(reply, (u64)-w);
            return;
        }
        put(reply, "ok");
        return;
    }
    put(reply, "error unknown");
}

static void serve(void) {
    int sock = (int)sys3(SYS_socket, AF_INET, SOCK_STREAM, 0);
    if (sock < 0) {
        fatal("socket", sock);
    }
    int one = 1;
    sys5(SYS_setsockopt, sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in4 any;
    mem_set(&any, 0, sizeof(any));
    any.family = AF_INET;
    any.port = (unsigned short)((8080 >> 8) | ((8080 & 0xff) << 8));
    s64 r = sys3(SYS_bind, sock, &any, sizeof(any));
    if (r < 0) {
        fatal("bind to port 8080", r);
    }
    if ((r = sys3(SYS_listen, sock, 16, 0)) < 0) {
        fatal("listen", r);
    }
    log_s("listening on 8080", 0);
    u64 served = 0;
    for (;;) {
        int c = (int)sys3(SYS_accept, sock, 0, 0);
        if (c < 0) {
            if (c != -EINTR) {
                log_err("accept", c);
            }
            continue;
        }
        char req[300];
        u64 n = 0;
        while (n < sizeof(req) - 1) {
            s64 got = sys3(SYS_read, c, req + n, sizeof(req) - 1 - n);
            if (got == -EINTR) {
                continue;
            }
            if (got <= 0) {
                break;
            }
            u64 end = n + (u64)got;
            int done = 0;
            for (; n < end; n++) {
                if (req[n] == '\n') {
                    done = 1;
                    break;
                }
            }
            if (done) {
                break;
            }
        }
        while (n > 0 && (req[n - 1] == '\r' || req[n - 1] == '\n')) {
            n--;
        }
        req[n] = 0;
        served++;
        struct line reply = {.len = 0};
        answer(&reply, req, n, served);
        reply.buf[reply.len++] = '\n';
        sys3(SYS_write, c, reply.buf, reply.len);
        sys3(SYS_close, c, 0, 0);
    }
}

static void init_main(char **envp) {
    s64 r = sys5(SYS_mount, "devtmpfs", "/dev", "devtmpfs", 0, 0);
    if (r < 0) {
        log_err("mounting devtmpfs on /dev", r);
    }
    kmsg = (int)sys3(SYS_open, "/dev/kmsg", O_WRONLY | O_CLOEXEC, 0);
    log_s("started", 0);
    if ((r = sys5(SYS_mount, "proc", "/proc", "proc", 0, 0)) < 0) {
        log_err("mounting /proc", r);
    }
    if ((r = sys5(SYS_mount, "/dev/vda", "/mnt", "ext2", 0, 0)) < 0) {
        log_err("mounting /dev/vda (ext2) on /mnt", r);
    } else {
        struct line reply = {.len = 0};
        char req[] = "read hello.txt";
        answer(&reply, req, sizeof(req) - 1, 0);
        reply.buf[reply.len] = 0;
        log_s("disk says: ", reply.buf);
    }
    network_up(envp);
    serve();
}

/* The kernel starts init with argc, argv..., NULL, envp..., NULL on the stack. */
__attribute__((naked, noreturn, section(".text.entry"))) void _start(void) {
    __asm__ volatile(
        "mov (%rsp), %rdi\n"          /* argc */
        "lea 16(%rsp,%rdi,8), %rdi\n" /* envp = argv + argc + 1 */
        "and $-16, %rsp\n"
        "call start_c\n"
        "ud2\n");
}

__attribute__((used, noreturn)) void start_c(char **envp) {
    init_main(envp);
    sleep_forever();
    __builtin_unreachable();
}
