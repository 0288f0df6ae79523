package io.sandboxd.daemon.orchestrator.cluster;

/** Tells the cluster at once where a sandbox went (the heartbeat's route sync catches anything missed). */
interface Routes {
    void hosted(String sandboxId);

    void gone(String sandboxId);
}
