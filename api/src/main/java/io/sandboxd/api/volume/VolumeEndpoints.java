package io.sandboxd.api.volume;

import static io.netty.handler.codec.http.HttpMethod.DELETE;
import static io.netty.handler.codec.http.HttpMethod.GET;
import static io.netty.handler.codec.http.HttpMethod.PATCH;
import static io.netty.handler.codec.http.HttpMethod.POST;
import static io.netty.handler.codec.http.HttpMethod.PUT;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sandboxd.api.http.HttpError;
import io.sandboxd.api.http.Json;
import io.sandboxd.api.http.JsonFields;
import io.sandboxd.api.http.RestRequest;
import io.sandboxd.api.http.RestResponse;
import io.sandboxd.api.http.Router;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The team volume endpoints ({@code /volumes}, API-key auth) and the volume file API the SDK's {@code Volume}
 * instance methods call ({@code /volumecontent/{volumeID}/dir|path|file}, authenticated by the volume's own token
 * as {@code Authorization: Bearer}, not by an API key).
 */
public final class VolumeEndpoints {
    static final Pattern VOLUME_ID = Pattern.compile("[a-z0-9]{1,64}");
    /** How deep one listing may recurse: deeper trees are listed a level at a time. */
    static final int MAX_DEPTH = 32;

    private final VolumeService service;

    public VolumeEndpoints(VolumeService service) {
        this.service = service;
    }

    public void register(Router router) {
        router.add(POST, "/volumes", this::create)
                .add(GET, "/volumes", this::list)
                .add(GET, "/volumes/{volumeID}", this::get)
                .add(DELETE, "/volumes/{volumeID}", this::destroy);
        Router.Access token = Router.Access.PUBLIC; // checked here, against the volume's token
        router.add(GET, "/volumecontent/{volumeID}/dir", token, this::listDir)
                .add(POST, "/volumecontent/{volumeID}/dir", token, this::makeDir)
                .add(GET, "/volumecontent/{volumeID}/path", token, this::stat)
                .add(PATCH, "/volumecontent/{volumeID}/path", token, this::updateMetadata)
                .add(DELETE, "/volumecontent/{volumeID}/path", token, this::remove)
                .add(GET, "/volumecontent/{volumeID}/file", token, this::readFile)
                .add(PUT, "/volumecontent/{volumeID}/file", token, this::writeFile);
    }

    private RestResponse create(RestRequest r) {
        JsonFields body = JsonFields.of(r.json(), false);
        String name = body.string("name", null);
        if (name == null) {
            throw HttpError.badRequest("Field 'name' is required");
        }
        return RestResponse.json(201, withToken(service.create(r.requireTeam(), name)));
    }

    private RestResponse list(RestRequest r) {
        ArrayNode out = Json.MAPPER.createArrayNode();
        for (VolumeInfo v : service.list(r.requireTeam())) {
            out.addObject().put("volumeID", v.volumeId()).put("name", v.name());
        }
        return RestResponse.json(200, out);
    }

    private RestResponse get(RestRequest r) {
        return RestResponse.json(200, withToken(service.get(r.requireTeam(), volumeId(r))));
    }

    private RestResponse destroy(RestRequest r) {
        service.destroy(r.requireTeam(), volumeId(r));
        return RestResponse.noContent();
    }

    private static ObjectNode withToken(VolumeInfo v) {
        ObjectNode n = Json.object();
        n.put("volumeID", v.volumeId());
        n.put("name", v.name());
        n.put("token", v.token());
        return n;
    }

    /** An ID that cannot exist answers 404 like an unknown one, so the SDK's VolumeNotFoundError applies. */
    private static String volumeId(RestRequest r) {
        String id = r.pathParam("volumeID");
        if (!VOLUME_ID.matcher(id).matches()) {
            throw HttpError.notFound("volume \"" + id + "\" doesn't exist or you don't have access to it");
        }
        return id;
    }

    // ---- the volume file API --------------------------------------------------------------------------------

    /** The volume the request's bearer token opens; 401 for a missing, malformed or wrong token. */
    private VolumeFiles files(RestRequest r) {
        List<String> auth = r.headers().getAll("Authorization");
        if (auth.size() > 1) {
            throw HttpError.unauthorized("Authorization is given more than once");
        }
        String header = auth.isEmpty() ? null : auth.getFirst();
        if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
            throw HttpError.unauthorized("Missing volume token: send it as 'Authorization: Bearer <token>' (the "
                    + "token Volume.create and Volume.getInfo return)");
        }
        String id = r.pathParam("volumeID");
        String token = header.substring(7).strip();
        if (!VOLUME_ID.matcher(id).matches()) {
            throw HttpError.unauthorized("Invalid volume token for volume \"" + id + "\"");
        }
        return service.files(id, token)
                .orElseThrow(() -> HttpError.unauthorized("Invalid volume token for volume \"" + id + "\""));
    }

    private RestResponse listDir(RestRequest r) {
        VolumeFiles files = files(r);
        int depth = intParam(r, "depth", 1, 1, MAX_DEPTH);
        ArrayNode out = Json.MAPPER.createArrayNode();
        files.list(path(r), depth).forEach(e -> out.add(stat(e)));
        return RestResponse.json(200, out);
    }

    private RestResponse makeDir(RestRequest r) {
        VolumeFiles files = files(r);
        return RestResponse.json(201, stat(files.makeDir(path(r), ownership(r), boolParam(r, "force"))));
    }

    private RestResponse stat(RestRequest r) {
        return RestResponse.json(200, stat(files(r).stat(path(r))));
    }

    private RestResponse updateMetadata(RestRequest r) {
        VolumeFiles files = files(r);
        JsonFields body = JsonFields.of(r.json(), false);
        Ownership o = new Ownership(id(body.integer("uid"), "uid"), id(body.integer("gid"), "gid"),
                mode(body.integer("mode")));
        return RestResponse.json(200, stat(files.updateMetadata(path(r), o)));
    }

    private RestResponse remove(RestRequest r) {
        files(r).remove(path(r));
        return RestResponse.noContent();
    }

    private RestResponse readFile(RestRequest r) {
        return RestResponse.octets(files(r).read(path(r)));
    }

    private RestResponse writeFile(RestRequest r) {
        VolumeFiles files = files(r);
        String type = r.headers().get("Content-Type");
        if (type != null && !type.split(";", 2)[0].strip().equalsIgnoreCase("application/octet-stream")) {
            throw new HttpError(415, "Content-Type '" + type + "' is not supported: send the file as "
                    + "application/octet-stream");
        }
        return RestResponse.json(201, stat(files.write(path(r), r.body(), ownership(r))));
    }

    static ObjectNode stat(EntryStat e) {
        ObjectNode n = Json.object();
        n.put("name", e.name());
        n.put("path", e.path());
        n.put("type", e.type());
        n.put("size", e.size());
        n.put("mode", e.mode());
        n.put("uid", e.uid());
        n.put("gid", e.gid());
        n.put("atime", e.atime().toString());
        n.put("mtime", e.mtime().toString());
        n.put("ctime", e.ctime().toString());
        if (e.target() != null) {
            n.put("target", e.target());
        }
        return n;
    }

    private static String path(RestRequest r) {
        String path = r.queryParam("path");
        if (path == null) {
            throw HttpError.badRequest("Query parameter 'path' is required");
        }
        return path;
    }

    private static Ownership ownership(RestRequest r) {
        return new Ownership(id(longParam(r, "uid"), "uid"), id(longParam(r, "gid"), "gid"), mode(longParam(r, "mode")));
    }

    private static Integer id(Long v, String name) {
        if (v == null) {
            return null;
        }
        if (v < 0 || v > 0xFFFF_FFFEL) {
            throw HttpError.badRequest("'" + name + "' must be a user or group ID (0.." + 0xFFFF_FFFEL + "), got " + v);
        }
        return (int) (long) v;
    }

    private static Integer mode(Long v) {
        if (v == null) {
            return null;
        }
        if (v < 0 || v > 07777) {
            throw HttpError.badRequest("'mode' must be permission bits (0..4095, i.e. 0o0000..0o7777), got " + v);
        }
        return (int) (long) v;
    }

    private static Long longParam(RestRequest r, String name) {
        String v = r.queryParam(name);
        if (v == null || v.isEmpty()) {
            return null;
        }
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw HttpError.badRequest("Query parameter '" + name + "' must be an integer, got '" + v + "'");
        }
    }

    private static int intParam(RestRequest r, String name, int fallback, int min, int max) {
        Long v = longParam(r, name);
        if (v == null) {
            return fallback;
        }
        if (v < min || v > max) {
            throw HttpError.badRequest("Query parameter '" + name + "' must be in " + min + ".." + max + ", got " + v);
        }
        return (int) (long) v;
    }

    private static boolean boolParam(RestRequest r, String name) {
        String v = r.queryParam(name);
        if (v == null || v.isEmpty()) {
            return false;
        }
        return switch (v) {
            case "true" -> true;
            case "false" -> false;
            default -> throw HttpError.badRequest("Query parameter '" + name + "' must be true or false, got '" + v + "'");
        };
    }
}
