package io.sandboxd.envd.connect;

import io.netty.handler.codec.http.HttpHeaders;
import io.sandboxd.envd.auth.UserAccount;
import java.time.Duration;
import java.util.Optional;

/**
 * What a Connect handler knows about the call besides its request message.
 *
 * @param procedure     {@code /package.Service/Method}
 * @param user          the account the call acts as (Basic auth user, else the default user)
 * @param deadlineNanos {@link System#nanoTime()} at which the call's {@code Connect-Timeout-Ms} runs out, or
 *                      {@link Long#MAX_VALUE} when the client sent none
 * @param headers       the request headers, read-only
 */
public record CallContext(String procedure, UserAccount user, long deadlineNanos, HttpHeaders headers) {
    public boolean hasDeadline() {
        return deadlineNanos != Long.MAX_VALUE;
    }

    /** Time left until the deadline (negative when passed), empty when there is no deadline. */
    public Optional<Duration> timeLeft() {
        return hasDeadline() ? Optional.of(Duration.ofNanos(deadlineNanos - System.nanoTime())) : Optional.empty();
    }
}
