package io.sandboxd.api.sandbox;

/** A named volume mounted at {@code path} inside the sandbox. */
public record VolumeMount(String name, String path) {}
