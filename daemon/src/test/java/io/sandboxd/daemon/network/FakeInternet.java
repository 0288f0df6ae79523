package io.sandboxd.daemon.network;

import io.sandboxd.daemon.host.HostCommand;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A stand-in for a destination outside the host, made of a network namespace this test creates: a veth to the
 * host with a /24 and a web server on port 8080. No test traffic ever leaves the machine.
 */
public final class FakeInternet implements AutoCloseable {
    public static final int PORT = 8080;
    public static final String BODY = "reached\n";

    private final String netns;
    private final String hostVeth;
    private final String address;
    private final Path webRoot;
    private Process server;
    private final List<Process> webServers = new java.util.ArrayList<>();

    /**
     * @param name    netns name and host veth name (at most 14 characters)
     * @param network first three octets, e.g. {@code 198.51.100}: the host gets .1, the namespace .2
     */
    public FakeInternet(String name, String network, Path webRoot) throws IOException {
        this.netns = name;
        this.hostVeth = name + "0";
        this.address = network + ".2";
        this.webRoot = webRoot;
        removeLinks(); // a previous run that died may have left them
        Process started = null;
        try {
            Files.createDirectories(webRoot);
        Files.writeString(webRoot.resolve("index.html"), BODY);
            HostCommand.check(List.of("ip", "netns", "add", netns));
            HostCommand.check(List.of("ip", "-b", "-"), "link add " + hostVeth + " type veth peer name eth0 netns " + netns
                    + "\naddr add " + network + ".1/24 dev " + hostVeth + "\nlink set " + hostVeth + " up\n");
            HostCommand.check(List.of("ip", "-n", netns, "-b", "-"), "link set lo up\naddr add " + address + "/24 dev eth0\n"
                    + "link set eth0 up\nroute add default via " + network + ".1\n");
            started = new ProcessBuilder("ip", "netns", "exec", netns, "busybox", "httpd", "-f", "-p", String.valueOf(PORT),
                    "-h", webRoot.toString()).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            // Ready when the host can fetch from it.
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (!HostCommand.run(List.of("curl", "-s", "-f", "-m", "1", url())).ok()) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("fake internet server at " + url() + " did not come up");
                }
            }
            server = started;
        } catch (IOException | RuntimeException e) {
            stop(started);
            removeLinks();
            throw e;
        }
    }

    public String address() {
        return address;
    }

    public String url() {
        return "http://" + address + ":" + PORT + "/index.html";
    }

    /**
     * Also serves the web root over HTTP on port 80 and a TLS server (openssl s_server, self-signed) on port 443: the
     * ports the egress proxy checks names on.
     */
    public FakeInternet withWebPorts(Path work) throws IOException {
        Files.createDirectories(work);
        Path key = work.resolve("key.pem");
        Path cert = work.resolve("cert.pem");
        HostCommand.check(List.of("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key.toString(),
                "-out", cert.toString(), "-subj", "/CN=fake-internet", "-days", "1"));
        webServers.add(new ProcessBuilder("ip", "netns", "exec", netns, "busybox", "httpd", "-f", "-p", "80", "-h",
                webRoot.toString()).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start());
        webServers.add(new ProcessBuilder("ip", "netns", "exec", netns, "openssl", "s_server", "-quiet", "-accept", "443",
                "-cert", cert.toString(), "-key", key.toString(), "-www").redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start());
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (!HostCommand.run(List.of("curl", "-s", "-f", "-m", "1", "http://" + address + "/index.html")).ok()
                || !HostCommand.run(List.of("curl", "-s", "-k", "-f", "-m", "1", "https://" + address + "/")).ok()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("fake internet web ports at " + address + " did not come up");
            }
        }
        return this;
    }

    @Override
    public void close() {
        webServers.forEach(FakeInternet::stop);
        stop(server);
        removeLinks();
    }

    private void removeLinks() {
        HostCommand.run(List.of("ip", "link", "del", hostVeth));
        HostCommand.run(List.of("ip", "netns", "del", netns));
    }

    private static void stop(Process p) {
        if (p != null) {
            p.destroyForcibly();
            try {
                p.waitFor();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
