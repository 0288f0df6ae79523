package io.sandboxd.daemon.orchestrator;

import io.sandboxd.api.sandbox.SandboxException;
import io.sandboxd.daemon.runtime.PreparedTemplate;
import io.sandboxd.daemon.store.TemplateRepository;
import io.sandboxd.daemon.store.TemplateRepository.BuildRecord;
import io.sandboxd.daemon.store.TemplateRepository.BuildStatus;
import io.sandboxd.daemon.store.TemplateRepository.TemplateRecord;
import io.sandboxd.daemon.template.TemplateStore;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The templates the runtime has prepared, registered in the store (a sandbox row references a ready build), and
 * how a create's {@code templateID} (id, alias, {@code name:tag}) resolves to one of them.
 */
final class TemplateCatalog {
    /**
     * A template sandboxes can start from now.
     *
     * @param runtimeId what the runtime prepared it as: the template ID, or for a tag its {@code TemplateStore.taggedId}
     */
    record Ready(TemplateRecord template, BuildRecord build, String runtimeId) {}

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
                .orElseGet(() -> templates.ensureBuiltIn(id, cpuCount, memoryMb));
        BuildRecord build = templates.latestReadyBuild(t.id()).filter(b -> b.runtime().equals(runtimeName))
                .orElseGet(() -> {
                    BuildRecord b = templates.createBuild(t.id(), cpuCount, memoryMb, diskSizeMb, runtimeName);
                    return templates.updateBuild(b.id(), BuildStatus.READY, null, envdVersion);
                });
        Ready r = new Ready(t, build, t.id());
        ready.put(t.id(), r);
        return r;
    }

    /** A tagged build the runtime prepared as {@code prepared.templateId()} ({@code TemplateStore.taggedId}). */
    void registerTagged(PreparedTemplate prepared, TemplateRecord t, BuildRecord build) {
        ready.put(prepared.templateId(), new Ready(t, build, prepared.templateId()));
    }

    /** A deleted template: creates no longer find it. */
    void forget(String templateId) {
        ready.remove(templateId);
        ready.keySet().removeIf(k -> k.startsWith(templateId + TemplateStore.TAG_MARK));
    }

    /** A removed tag: creates of {@code name:tag} no longer find it. */
    void forgetTagged(String taggedId) {
        ready.remove(taggedId);
    }

    /** What creates can start from here: template IDs, and tagged builds as their {@code TemplateStore.taggedId}. */
    java.util.Set<String> readyKeys() {
        return java.util.Set.copyOf(ready.keySet());
    }

    /**
     * The {@link #readyKeys} entry a create's reference needs, looked up in the store (so it works for templates that
     * are ready on other hosts only); empty when the store knows no such template.
     */
    java.util.Optional<String> keyOf(String reference) {
        Reference ref = Reference.parse(reference);
        Ready r = ready.get(ref.name());
        java.util.Optional<TemplateRecord> t = r != null ? java.util.Optional.of(r.template())
                : templates.findByIdOrAlias(ref.name());
        return t.map(tr -> ref.isDefault() ? tr.id() : TemplateStore.taggedId(tr.id(), ref.tag()));
    }

    /** A create's {@code templateID}: {@code name} or {@code name:tag}; none at all means {@code base}. */
    record Reference(String name, String tag) {
        static Reference parse(String reference) {
            return of(reference == null || reference.isBlank() ? "base" : reference);
        }

        /** {@code name:tag} split at its first colon, as given (no default template). */
        static Reference of(String ref) {
            int colon = ref.indexOf(':');
            return colon < 0 ? new Reference(ref, "default") : new Reference(ref.substring(0, colon), ref.substring(colon + 1));
        }

        boolean isDefault() {
            return tag.equals("default");
        }
    }

    /** The template a create names; NOT_FOUND when it does not exist or is not prepared on this host. */
    Ready resolve(String reference) {
        Reference ref = Reference.parse(reference);
        String name = ref.name();
        String tag = ref.tag();
        // Creates name a template by ID almost always: that needs no store lookup.
        Ready r = ready.get(name);
        TemplateRecord t = r != null ? r.template() : templates.findByIdOrAlias(name).orElse(null);
        if (t != null && !tag.equals("default")) {
            Ready tagged = ready.get(TemplateStore.taggedId(t.id(), tag));
            if (tagged == null) {
                throw new SandboxException(SandboxException.Reason.NOT_FOUND, "template '" + reference
                        + "' not found: '" + name + "' has no tag '" + tag + "' ready on this host");
            }
            return tagged;
        }
        if (r == null && t != null) {
            r = ready.get(t.id());
        }
        if (r == null) {
            throw new SandboxException(SandboxException.Reason.NOT_FOUND, "template '" + reference
                    + "' not found (ready on this host: " + String.join(", ", ready.keySet().stream()
                    .filter(k -> !k.contains(TemplateStore.TAG_MARK)).sorted().toList()) + ")");
        }
        return r;
    }
}
