/* <sys/xattr.h> and <linux/limits.h> declarations bound by io.sandboxd.ffi.Xattr. */
#include "probe.h"
#include <sys/xattr.h>
#include <linux/limits.h>

int main(void) {
    CONST(XATTR_CREATE) CONST(XATTR_REPLACE)
    CONST(XATTR_NAME_MAX) CONST(XATTR_SIZE_MAX) CONST(XATTR_LIST_MAX)
    return 0;
}
