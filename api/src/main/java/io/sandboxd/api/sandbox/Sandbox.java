package io.sandboxd.api.sandbox;

/**
 * What create, connect and resume answer: enough for the SDK to reach envd.
 *
 * @param envdAccessToken    null when the sandbox is not secure
 * @param trafficAccessToken null when public traffic is allowed
 * @param domain             the sandbox domain; always set, because SDK ≥ 2.25 sends envd traffic to e2b.app
 *                           when it is null and no E2B_DOMAIN/E2B_SANDBOX_URL is set
 */
public record Sandbox(String sandboxId, String templateId, String alias, String envdVersion,
                      String envdAccessToken, String trafficAccessToken, String domain) {}
