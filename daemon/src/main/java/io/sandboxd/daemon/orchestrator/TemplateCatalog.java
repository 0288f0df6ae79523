package io.sandboxd.daemon.orchestrator;

import io.sandboxd.api.sandbox.SandboxException;
import io.sandboxd.daemon.runtime.PreparedTemplate;
import io.sandboxd.daemon.store.TemplateRepository;
import io.sandboxd.daemon.store.TemplateRepository.BuildRecord;
import io.sandboxd.daemon.store.TemplateRepository.BuildStatus;
import io.sandboxd.daemon.store.TemplateRepository.TemplateRecord;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The templates the runtime has prepared, registered in the store (a sandbox row references a ready build), and
 * how a create's {@code templateID} (id, alias, {@code name:tag}) resolves to one of them.
 */
final class TemplateCatalog {
    /** A template sandboxes can start from now. */
    record Ready(TemplateRecord template, BuildRecord build) {}

    private final TemplateRepository templates;
    private final String runtimeName;
    private final Map<String, Ready> ready = new ConcurrentHashMap<>();

    TemplateCatalog(TemplateRepository templates, String runtimeName) {
        this.templates = templates;
        this.runtimeName = runtimeName;
    }

    /** Records a prepared template as a public built-in template with a ready build (reused across restarts). */
    Ready register(PreparedTemplate prepared, int cpuCount, int memoryMb, int diskSizeMb, String envdVersion) {
        String id = prepared.templateId();
        TemplateRecord t = templates.findByIdOrAlias(id)
                .orElseGet(() -> templates.create(id, null, true, cpuCount, memoryMb, List.of()));
        BuildRecord build = templates.latestReadyBuild(t.id()).filter(b -> b.runtime().equals(runtimeName))
                .orElseGet(() -> {
                    BuildRecord b = templates.createBuild(t.id(), cpuCount, memoryMb, diskSizeMb, runtimeName);
                    return templates.updateBuild(b.id(), BuildStatus.READY, null, envdVersion);
                });
        Ready r = new Ready(t, build);
        ready.put(t.id(), r);
        return r;
    }

    /** A deleted template: creates no longer find it. */
    void forget(String templateId) {
        ready.remove(templateId);
    }

    /** The template a create names; NOT_FOUND when it does not exist or is not prepared on this host. */
    Ready resolve(String reference) {
        String ref = reference == null || reference.isBlank() ? "base" : reference;
        int colon = ref.indexOf(':');
        String name = colon < 0 ? ref : ref.substring(0, colon);
        if (colon >= 0 && !ref.substring(colon + 1).equals("default")) {
            throw new SandboxException(SandboxException.Reason.NOT_FOUND, "template '" + reference
                    + "' not found: sandboxd serves only the default tag of its templates");
        }
        // Creates name a template by ID almost always: that needs no store lookup.
        Ready r = ready.get(name);
        if (r == null) {
            TemplateRecord t = templates.findByIdOrAlias(name).orElse(null);
            r = t == null ? null : ready.get(t.id());
        }
        if (r == null) {
            throw new SandboxException(SandboxException.Reason.NOT_FOUND, "template '" + reference
                    + "' not found (ready on this host: " + String.join(", ", ready.keySet()) + ")");
        }
        return r;
    }
}
