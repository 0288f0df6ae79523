/**
 * The PC devices a Linux guest expects at fixed I/O ports: the 16550A UART that carries its console
 * ({@link io.sandboxd.vmm.devices.legacy.Serial16550}) and the i8042 keyboard controller, whose reset line is how
 * Linux reboots ({@link io.sandboxd.vmm.devices.legacy.I8042}).
 */
package io.sandboxd.vmm.devices.legacy;
