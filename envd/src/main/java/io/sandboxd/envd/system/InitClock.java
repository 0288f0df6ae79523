package io.sandboxd.envd.system;

import java.io.IOException;
import java.time.Instant;
import java.util.function.LongSupplier;
import java.util.logging.Logger;

/**
 * What {@code POST /init}'s {@code timestamp} does to the system clock. Inside a sandbox the clock is the sandbox's
 * own and a restored or long-pooled sandbox's clock is behind, so envd as its agent sets it from the host's time.
 * On a host (envd run by hand, the SDK's debug mode, the AOT training run) that clock is the machine's: it must never
 * be touched, so setting it is an explicit opt-in ({@code --set-clock-from-init}, passed by the daemon's jail
 * runtime) and everything else gets {@link #never()}.
 */
public final class InitClock {
    private static final Logger LOG = Logger.getLogger(InitClock.class.getName());
    /** The clock is set only when it is off by more than this. */
    static final long TOLERANCE_MILLIS = 50;

    /** Sets the system clock. */
    @FunctionalInterface
    public interface Setter {
        void set(Instant now) throws IOException, InterruptedException;
    }

    /** Null: this envd never sets the clock. */
    private final Setter setter;
    private final LongSupplier nowMillis;

    private InitClock(Setter setter, LongSupplier nowMillis) {
        this.setter = setter;
        this.nowMillis = nowMillis;
    }

    /** envd outside a sandbox: {@code /init}'s timestamp is ignored. */
    public static InitClock never() {
        return new InitClock(null, System::currentTimeMillis);
    }

    /** envd as a sandbox's agent: a clock off by more than the tolerance is set with {@code setter}. */
    public static InitClock setWith(Setter setter) {
        return new InitClock(java.util.Objects.requireNonNull(setter, "setter"), System::currentTimeMillis);
    }

    /** The real setter: {@code date -u -s @<seconds.nanos>} (envd runs as root in the sandbox; coreutils is there). */
    public static InitClock systemDate() {
        return setWith(InitClock::setWithDate);
    }

    /** The same policy, against a test's idea of now. */
    InitClock withNow(LongSupplier now) {
        return new InitClock(setter, now);
    }

    public boolean setsClock() {
        return setter != null;
    }

    /** Compares {@code hostTime} with the clock and sets the clock when this envd may and it is off. */
    void correct(Instant hostTime) throws InterruptedException {
        if (setter == null) {
            return;
        }
        long skew = Math.abs(hostTime.toEpochMilli() - nowMillis.getAsLong());
        if (skew <= TOLERANCE_MILLIS) {
            return;
        }
        try {
            setter.set(hostTime);
            LOG.info("clock was off by " + skew + " ms; set from /init");
        } catch (IOException e) {
            LOG.warning("cannot set the clock (off by " + skew + " ms): " + e.getMessage());
        }
    }

    static void setWithDate(Instant now) throws IOException, InterruptedException {
        String arg = "@" + now.getEpochSecond() + "." + String.format("%09d", now.getNano());
        Process p = new ProcessBuilder("date", "-u", "-s", arg).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        if (p.waitFor() != 0) {
            throw new IOException("date -s " + arg + " exited with " + p.exitValue());
        }
    }
}
