package io.sandboxd.daemon.orchestrator;

import java.security.SecureRandom;

/** IDs of new templates: 20 of {@code [a-z0-9]}, E2B's shape, random so they say nothing about their team. */
final class TemplateIds {
    private static final String ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";
    private static final SecureRandom RANDOM = new SecureRandom();

    private TemplateIds() {
    }

    static String next() {
        StringBuilder b = new StringBuilder(20);
        for (int i = 0; i < 20; i++) {
            b.append(ALPHABET.charAt(RANDOM.nextInt(ALPHABET.length())));
        }
        return b.toString();
    }
}
