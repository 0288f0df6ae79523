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
}
