package io.sandboxd.daemon.envd;

import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.Map;

/** Port: how the orchestrator hands a started sandbox its settings ({@code POST /init} on envd, spec 3.1). */
@FunctionalInterface
public interface EnvdClient {
    /**
     * @param accessToken null when the sandbox is not secure
     * @throws RuntimeException when envd does not take the settings; the create then fails
     */
    void init(InetSocketAddress envd, Init init);

    record Init(String accessToken, Map<String, String> envVars, String defaultUser, String defaultWorkdir,
                Instant timestamp) {
        public Init {
            envVars = Map.copyOf(envVars);
        }
    }
}
