package io.sandboxd.daemon.cli;

import picocli.CommandLine;

/** {@code --version}: the jar's implementation version (from the Maven build), plus the JVM it runs on. */
final class VersionProvider implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
        String v = SandboxdCommand.class.getPackage().getImplementationVersion();
        return new String[] {
                "sandboxd " + (v == null ? "dev" : v),
                "JVM: " + Runtime.version() + " (" + System.getProperty("java.vm.vendor") + ")",
        };
    }
}
