package io.sandboxd.daemon.orchestrator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sandboxd.api.sandbox.SandboxException;
import io.sandboxd.daemon.runtime.PreparedTemplate;
import io.sandboxd.daemon.store.Store;
import io.sandboxd.daemon.store.TemplateRepository.BuildRecord;
import io.sandboxd.daemon.store.TemplateRepository.BuildStatus;
import io.sandboxd.daemon.store.TemplateRepository.TemplateRecord;
import io.sandboxd.daemon.store.TestPostgres;
import io.sandboxd.daemon.template.TemplateStore;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** How a create's template reference (ID, name, {@code name:tag}) resolves to what the runtime prepared. */
class TemplateCatalogTest {
    Store store;
    TemplateCatalog catalog;
    TemplateRecord t;
    BuildRecord v1;
    BuildRecord v2;

    @BeforeEach
    void open() throws Exception {
        store = Store.over(TestPostgres.freshDatabase());
        catalog = new TemplateCatalog(store.templates(), "jail");
        var team = store.teams().ensureDefault();
        t = store.templates().create("tpl1", team.id(), false, 1, 256, List.of("app"));
        v1 = ready(store.templates().createBuild("tpl1", 1, 256, 1024, "jail"));
        v2 = ready(store.templates().createBuild("tpl1", 1, 256, 1024, "jail"));
        catalog.register(new PreparedTemplate("tpl1", v2.id().toString(), Path.of("/x")), 1, 256, 1024, "0.6");
        String tagged = TemplateStore.taggedId("tpl1", "v1");
        catalog.registerTagged(new PreparedTemplate(tagged, v1.id().toString(), Path.of("/y")), t, v1);
    }

    private BuildRecord ready(BuildRecord b) {
        return store.templates().updateBuild(b.id(), BuildStatus.READY, null, "0.6");
    }

    @AfterEach
    void close() {
        store.close();
    }

    @Test
    void namesIdsAndTheDefaultTagResolveToTheNewestBuild() {
        for (String ref : List.of("tpl1", "app", "app:default", "tpl1:default")) {
            TemplateCatalog.Ready r = catalog.resolve(ref);
            assertEquals("tpl1", r.runtimeId(), ref);
            assertEquals("tpl1", r.template().id(), ref);
        }
    }

    @Test
    void aTagResolvesToItsBuildUnderItsOwnRuntimeId() {
        TemplateCatalog.Ready r = catalog.resolve("app:v1");
        assertEquals(TemplateStore.taggedId("tpl1", "v1"), r.runtimeId());
        assertEquals("tpl1", r.template().id(), "the sandbox row still names the template");
        assertEquals(v1.id(), r.build().id());
        assertEquals(r.runtimeId(), catalog.resolve("tpl1:v1").runtimeId());
    }

    @Test
    void unknownTagsAndTemplatesAre404sThatSayWhat() {
        SandboxException tag = assertThrows(SandboxException.class, () -> catalog.resolve("app:v9"));
        assertEquals(SandboxException.Reason.NOT_FOUND, tag.reason());
        assertTrue(tag.getMessage().contains("has no tag 'v9'"), tag.getMessage());
        SandboxException none = assertThrows(SandboxException.class, () -> catalog.resolve("nope"));
        assertTrue(none.getMessage().contains("ready on this host: tpl1"), none.getMessage());
        assertTrue(!none.getMessage().contains(TemplateStore.TAG_MARK), "tag entries are not listed as templates");
    }

    @Test
    void forgettingATemplateForgetsItsTagsAndATagAlone() {
        catalog.forgetTagged(TemplateStore.taggedId("tpl1", "v1"));
        assertThrows(SandboxException.class, () -> catalog.resolve("app:v1"));
        assertEquals("tpl1", catalog.resolve("app").runtimeId());
        catalog.registerTagged(new PreparedTemplate(TemplateStore.taggedId("tpl1", "v1"), v1.id().toString(),
                Path.of("/y")), t, v1);
        catalog.forget("tpl1");
        assertThrows(SandboxException.class, () -> catalog.resolve("app:v1"));
        assertThrows(SandboxException.class, () -> catalog.resolve("app"));
    }

    @Test
    void taggedIdsAreValidTemplateDirectoryNamesAndDifferPerTag() {
        String a = TemplateStore.taggedId("tpl1", "v1.0");
        assertTrue(a.matches("tpl1-t[0-9a-f]{12}"), a);
        assertTrue(!a.equals(TemplateStore.taggedId("tpl1", "v1_0")));
    }
}
