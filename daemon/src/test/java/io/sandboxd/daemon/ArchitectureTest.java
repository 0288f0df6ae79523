package io.sandboxd.daemon;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The dependency directions of DESIGN.md, checked on the compiled classes of every module on the daemon's
 * classpath (ffi-bindings, kvm-nbd, api, daemon).
 */
class ArchitectureTest {
    private static JavaClasses classes;

    @BeforeAll
    static void importClasses() {
        classes = new ClassFileImporter()
                .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("io.sandboxd");
    }

    @Test
    void onlyTheBindingsTalkToTheLinker() {
        noClasses().that().resideOutsideOfPackage("io.sandboxd.ffi..")
                .should().dependOnClassesThat().haveFullyQualifiedName("java.lang.foreign.Linker")
                .orShould().dependOnClassesThat().haveFullyQualifiedName("java.lang.foreign.SymbolLookup")
                .because("downcall handles are built once, in one binding class per native area")
                .check(classes);
    }

    @Test
    void theApiKnowsNothingOfKvmBlockDevicesOrTheDaemon() {
        noClasses().that().resideInAPackage("io.sandboxd.api..")
                .should().dependOnClassesThat().resideInAnyPackage(
                        "io.sandboxd.vmm..", "io.sandboxd.block..", "io.sandboxd.layer..", "io.sandboxd.ffi..",
                        "io.sandboxd.daemon..")
                .because("the API talks to the rest only through the ports it declares")
                .allowEmptyShould(true)
                .check(classes);
    }

    @Test
    void nothingBelowTheDaemonKnowsHttpOrTheDaemon() {
        noClasses().that().resideInAnyPackage("io.sandboxd.vmm..", "io.sandboxd.block..", "io.sandboxd.layer..",
                        "io.sandboxd.ffi..")
                .should().dependOnClassesThat().resideInAnyPackage(
                        "io.sandboxd.api..", "io.sandboxd.daemon..", "io.netty.handler.codec.http..")
                .because("dependencies point one way: daemon -> api, kvm-nbd, ffi-bindings")
                .allowEmptyShould(true)
                .check(classes);
    }

    @Test
    void theRuntimePortKnowsNoAdapterAndTheAdaptersDoNotKnowEachOther() {
        noClasses().that().resideInAPackage("io.sandboxd.daemon.runtime")
                .should().dependOnClassesThat().resideInAnyPackage("io.sandboxd.daemon.runtime.jail..",
                        "io.sandboxd.daemon.runtime.vm..", "io.sandboxd.daemon.orchestrator..", "io.sandboxd.api..")
                .because("daemon.runtime is the runtime-neutral port the orchestrator talks to")
                .check(classes);
        noClasses().that().resideInAPackage("io.sandboxd.daemon.runtime.jail..")
                .should().dependOnClassesThat().resideInAnyPackage("io.sandboxd.daemon.runtime.vm..", "io.sandboxd.vmm..")
                .because("the jail adapter knows nothing of microVMs")
                .check(classes);
        noClasses().that().resideInAPackage("io.sandboxd.daemon.runtime.vm..")
                .should().dependOnClassesThat().resideInAPackage("io.sandboxd.daemon.runtime.jail..")
                .because("the vm adapter knows nothing of jails")
                .allowEmptyShould(true)
                .check(classes);
    }

    @Test
    void runtimesAndTheirHelpersNeverReachUpToTheOrchestratorOrTheApi() {
        noClasses().that().resideInAnyPackage("io.sandboxd.daemon.runtime..", "io.sandboxd.daemon.host..",
                        "io.sandboxd.daemon.network..", "io.sandboxd.daemon.template..", "io.sandboxd.daemon.envd..",
                        "io.sandboxd.daemon.pool..")
                .should().dependOnClassesThat().resideInAnyPackage("io.sandboxd.daemon.orchestrator..",
                        "io.sandboxd.daemon.cli..", "io.sandboxd.api..")
                .because("the orchestrator uses runtimes, never the other way round")
                .check(classes);
    }

    @Test
    void hostUtilitiesAndServicesDoNotReachBackIntoRuntimes() {
        noClasses().that().resideInAnyPackage("io.sandboxd.daemon.host..", "io.sandboxd.daemon.network..",
                        "io.sandboxd.daemon.template..", "io.sandboxd.daemon.envd..", "io.sandboxd.daemon.pool..",
                        "io.sandboxd.daemon.store..")
                .should().dependOnClassesThat().resideInAPackage("io.sandboxd.daemon.runtime..")
                .because("runtimes are built from these, not the other way round (no back-arrows)")
                .check(classes);
    }

    @Test
    void theStoreKeepsRowsOfItsOwn() {
        noClasses().that().resideInAPackage("io.sandboxd.daemon.store..")
                .should().dependOnClassesThat().resideInAnyPackage("io.sandboxd.api.sandbox..", "io.sandboxd.api.http..",
                        "io.sandboxd.daemon.orchestrator..", "io.sandboxd.daemon.runtime..")
                .because("store rows are the store's own types; the orchestrator maps them to API types")
                .check(classes);
    }

    @Test
    void onlyTheOrchestratorTurnsFailuresIntoApiErrors() {
        noClasses().that().resideOutsideOfPackages("io.sandboxd.api..", "io.sandboxd.daemon.orchestrator..",
                        "io.sandboxd.daemon.cli..")
                .should().dependOnClassesThat().haveFullyQualifiedName("io.sandboxd.api.sandbox.SandboxException")
                .because("one mapping (RuntimeErrors) decides the status of a failure")
                .check(classes);
    }
}
