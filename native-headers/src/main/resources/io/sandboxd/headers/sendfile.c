/* io.sandboxd.ffi.Sendfile binds sendfile(2) only: no structs or constants, the probe checks the header exists and
 * the prototype's off_t is 64-bit (the binding passes a long). */
#include "probe.h"
#include <sys/sendfile.h>
#include <sys/types.h>

int main(void) {
    CONST(sizeof(off_t))
    return 0;
}
