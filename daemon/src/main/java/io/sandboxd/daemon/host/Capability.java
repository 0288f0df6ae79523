package io.sandboxd.daemon.host;

/**
 * One line of {@code sandboxd doctor}: what was checked, whether it is usable, and what that means for the user.
 *
 * @param name   the short key the line starts with ({@code kvm}, {@code userfaultfd}, ...)
 * @param status ok, limited (usable with a caveat) or missing
 * @param detail what was found and what it means for running sandboxes
 */
public record Capability(String name, Status status, String detail) {
    public enum Status {
        OK("ok"), LIMITED("limited"), MISSING("missing");

        private final String label;

        Status(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }
    }

    public boolean usable() {
        return status != Status.MISSING;
    }

    public String line() {
        return name + ": " + status.label() + " - " + detail;
    }
}
