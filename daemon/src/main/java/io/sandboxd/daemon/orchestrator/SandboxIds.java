package io.sandboxd.daemon.orchestrator;

import java.security.SecureRandom;

/** Sandbox IDs as upstream makes them: 20 characters of lowercase {@code [a-z0-9]}, unguessable. */
final class SandboxIds {
    static final int LENGTH = 20;
    private static final char[] ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789".toCharArray();
    private static final SecureRandom RANDOM = new SecureRandom();

    private SandboxIds() {
    }

    static String next() {
        char[] id = new char[LENGTH];
        for (int i = 0; i < LENGTH; i++) {
            id[i] = ALPHABET[RANDOM.nextInt(ALPHABET.length)];
        }
        return new String(id);
    }
}
