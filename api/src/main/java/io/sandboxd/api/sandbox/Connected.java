package io.sandboxd.api.sandbox;

/** The result of connect: the sandbox, and whether it had to be resumed (201) or was already running (200). */
public record Connected(Sandbox sandbox, boolean resumed) {}
