package io.sandboxd.daemon.cli.admin;

import picocli.CommandLine.Option;

/** {@code --format text|json}, shared by every admin command: text for people, JSON (one document) for scripts. */
public final class OutputFormat {
    public enum Kind { text, json }

    @Option(names = "--format", defaultValue = "text", paramLabel = "text|json",
            description = "Output: text (tables) or json. Default: ${DEFAULT-VALUE}.")
    Kind kind = Kind.text;

    boolean json() {
        return kind == Kind.json;
    }
}
