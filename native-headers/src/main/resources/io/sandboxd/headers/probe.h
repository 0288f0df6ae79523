/*
 * Shared by every probe: each probe is a list of the declarations sandboxd binds through FFM, and prints what the
 * system headers (Debian's linux-libc-dev and libc6-dev) say about them, one fact per line:
 *
 *   struct <name> <size>
 *   field <struct>.<member path> <offset> <size>
 *   const <name> <value>
 *
 * The Java test (ffi-bindings: HeaderCheck) compiles the probe with gcc, runs it and compares every line with the
 * Java layouts and constants. Nothing here is copied from kernel sources: the values come from the headers at
 * compile time.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>

#define STRUCT(s) printf("struct %s %zu\n", #s, sizeof(struct s));
#define TYPE(t) printf("struct %s %zu\n", #t, sizeof(t));
#define FIELD(s, f) printf("field %s.%s %zu %zu\n", #s, #f, offsetof(struct s, f), sizeof(((struct s *)0)->f));
#define TFIELD(t, f) printf("field %s.%s %zu %zu\n", #t, #f, offsetof(t, f), sizeof(((t *)0)->f));
#define CONST(c) printf("const %s %lld\n", #c, (long long)(c));
