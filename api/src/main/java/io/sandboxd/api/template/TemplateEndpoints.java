package io.sandboxd.api.template;

import static io.netty.handler.codec.http.HttpMethod.DELETE;
import static io.netty.handler.codec.http.HttpMethod.GET;
import static io.netty.handler.codec.http.HttpMethod.POST;
import static io.netty.handler.codec.http.HttpMethod.PUT;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sandboxd.api.http.ApiChannelInitializer;
import io.sandboxd.api.http.HttpError;
import io.sandboxd.api.http.Json;
import io.sandboxd.api.http.JsonFields;
import io.sandboxd.api.http.RestRequest;
import io.sandboxd.api.http.RestResponse;
import io.sandboxd.api.http.Router;
import java.io.ByteArrayInputStream;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The template build endpoints the SDK's {@code Template.build} and {@code Template.exists} call (spec 1.6): create
 * ({@code POST /v3/templates}), the upload link of a COPY step's files and the upload itself (a URL on this API,
 * authenticated by a token in the link, as the SDK sends no key with it), build start, build status with logs,
 * alias lookup, list, get and delete.
 */
public final class TemplateEndpoints {
    static final Pattern TEMPLATE_ID = Pattern.compile("[a-z0-9]{1,64}");
    static final Pattern BUILD_ID = Pattern.compile("[0-9a-f-]{36}");
    static final Pattern FILES_HASH = Pattern.compile("[A-Za-z0-9]{1,128}");
    /** Entries per status page: the SDK keeps polling until a page is empty. */
    static final int LOG_PAGE = 100;

    private final TemplateService service;

    public TemplateEndpoints(TemplateService service) {
        this.service = service;
    }

    public void register(Router router) {
        router.add(POST, "/v3/templates", this::create)
                .add(POST, "/templates/tags", this::assignTags)
                .add(DELETE, "/templates/tags", this::removeTags)
                .add(GET, "/templates/{templateID}/tags", this::tags)
                .add(GET, "/templates", this::list)
                .add(GET, "/templates/aliases/{alias}", this::alias)
                .add(GET, "/templates/{templateID}", this::get)
                .add(DELETE, "/templates/{templateID}", this::delete)
                .add(GET, "/templates/{templateID}/files/{hash}", this::filesLink)
                .add(POST, "/v2/templates/{templateID}/builds/{buildID}", this::startBuild)
                .add(GET, "/templates/{templateID}/builds/{buildID}/status", this::status)
                .add(PUT, ApiChannelInitializer.TEMPLATE_FILES_PREFIX + "{templateID}/{hash}", Router.Access.PUBLIC,
                        this::upload);
    }

    private RestResponse create(RestRequest r) {
        JsonFields body = JsonFields.of(r.json(), false);
        String name = body.string("name", null);
        if (name == null) {
            // Older SDKs send "alias"; the v3 API calls it name.
            name = body.string("alias", null);
        }
        if (name == null || name.isBlank()) {
            throw HttpError.badRequest("Field 'name' is required");
        }
        Long cpu = body.integer("cpuCount");
        Long mem = body.integer("memoryMB");
        TemplateService.Created c = service.create(r.requireTeam(), name,
                body.has("tags") ? body.stringList("tags") : List.of(),
                cpu == null ? null : Math.toIntExact(Math.clamp(cpu, Integer.MIN_VALUE, Integer.MAX_VALUE)),
                mem == null ? null : Math.toIntExact(Math.clamp(mem, Integer.MIN_VALUE, Integer.MAX_VALUE)));
        ObjectNode out = Json.object();
        out.put("templateID", c.templateId()).put("buildID", c.buildId()).put("public", c.isPublic());
        c.names().forEach(out.putArray("names")::add);
        c.tags().forEach(out.putArray("tags")::add);
        c.names().forEach(out.putArray("aliases")::add);
        return RestResponse.json(202, out);
    }

    private RestResponse assignTags(RestRequest r) {
        JsonFields body = JsonFields.of(r.json(), false);
        String target = body.string("target", null);
        if (target == null || target.isBlank()) {
            throw HttpError.badRequest("Field 'target' (\"name:tag\") is required");
        }
        List<String> tags = requiredTags(body);
        TemplateService.Assigned a = service.assignTags(r.requireTeam(), target, tags);
        ObjectNode out = Json.object().put("buildID", a.buildId());
        a.tags().forEach(out.putArray("tags")::add);
        return RestResponse.json(201, out);
    }

    private RestResponse removeTags(RestRequest r) {
        JsonFields body = JsonFields.of(r.json(), false);
        String name = body.string("name", null);
        if (name == null || name.isBlank()) {
            throw HttpError.badRequest("Field 'name' is required");
        }
        service.removeTags(r.requireTeam(), name, requiredTags(body));
        return RestResponse.noContent();
    }

    private RestResponse tags(RestRequest r) {
        ArrayNode out = Json.MAPPER.createArrayNode();
        for (TemplateService.TagInfo t : service.tags(r.requireTeam(), r.pathParam("templateID"))) {
            out.addObject().put("tag", t.tag()).put("buildID", t.buildId()).put("createdAt", t.createdAt().toString());
        }
        return RestResponse.json(200, out);
    }

    private static List<String> requiredTags(JsonFields body) {
        if (!body.has("tags")) {
            throw HttpError.badRequest("Field 'tags' is required");
        }
        List<String> tags = body.stringList("tags");
        if (tags.isEmpty()) {
            throw HttpError.badRequest("Field 'tags' must name at least one tag");
        }
        return tags;
    }

    private RestResponse filesLink(RestRequest r) {
        String tid = templateId(r);
        String hash = hash(r);
        TemplateService.FilesLink link = service.filesLink(r.requireTeam(), tid, hash);
        ObjectNode out = Json.object().put("present", link.present());
        if (!link.present()) {
            String host = r.headers().get("Host");
            if (host == null || host.isBlank()) {
                throw HttpError.badRequest("a Host header is needed to give an upload link");
            }
            out.put("url", "http://" + host + ApiChannelInitializer.TEMPLATE_FILES_PREFIX + tid + "/" + hash
                    + "?token=" + URLEncoder.encode(link.uploadToken(), StandardCharsets.UTF_8));
        }
        return RestResponse.json(201, out);
    }

    private RestResponse upload(RestRequest r) {
        String token = r.queryParam("token");
        if (token == null) {
            throw HttpError.unauthorized("the upload link's token is missing");
        }
        service.upload(templateId(r), hash(r), token, new ByteArrayInputStream(r.body()));
        return RestResponse.json(200, Json.object());
    }

    private RestResponse startBuild(RestRequest r) {
        service.startBuild(r.requireTeam(), templateId(r), buildId(r), BuildRequest.parse(r.json()));
        return new RestResponse(202, null, java.util.Map.of(), new byte[0]);
    }

    private RestResponse status(RestRequest r) {
        int offset = 0;
        String o = r.queryParam("logsOffset");
        if (o != null) {
            try {
                offset = Integer.parseInt(o);
            } catch (NumberFormatException e) {
                throw HttpError.badRequest("logsOffset must be a non-negative integer, got '" + o + "'");
            }
            if (offset < 0) {
                throw HttpError.badRequest("logsOffset must be a non-negative integer, got " + offset);
            }
        }
        TemplateService.Status s = service.status(r.requireTeam(), templateId(r), buildId(r), offset);
        return RestResponse.json(200, statusJson(s));
    }

    static ObjectNode statusJson(TemplateService.Status s) {
        ObjectNode out = Json.object();
        out.put("templateID", s.templateId()).put("buildID", s.buildId()).put("status", s.status());
        ArrayNode logs = out.putArray("logs");
        ArrayNode entries = out.putArray("logEntries");
        List<TemplateService.LogLine> page = s.logs().subList(0, Math.min(LOG_PAGE, s.logs().size()));
        for (TemplateService.LogLine l : page) {
            logs.add(l.message());
            ObjectNode e = entries.addObject().put("timestamp", l.timestamp().toString()).put("level", l.level())
                    .put("message", l.message());
            if (l.step() != null) {
                e.put("step", l.step());
            }
        }
        if (s.reasonMessage() != null) {
            ObjectNode reason = out.putObject("reason").put("message", s.reasonMessage());
            if (s.reasonStep() != null) {
                reason.put("step", s.reasonStep());
            }
            reason.putArray("logEntries");
        }
        return out;
    }

    private RestResponse alias(RestRequest r) {
        TemplateService.Info t = service.byAlias(r.requireTeam(), r.pathParam("alias"));
        return RestResponse.json(200, Json.object().put("templateID", t.templateId()).put("public", t.isPublic()));
    }

    private RestResponse list(RestRequest r) {
        ArrayNode out = Json.MAPPER.createArrayNode();
        for (TemplateService.Info t : service.list(r.requireTeam())) {
            out.add(infoJson(t));
        }
        return RestResponse.json(200, out);
    }

    private RestResponse get(RestRequest r) {
        TemplateService.Info t = service.get(r.requireTeam(), r.pathParam("templateID"));
        ObjectNode out = infoJson(t);
        ArrayNode builds = out.putArray("builds");
        if (t.buildId() != null) {
            builds.addObject().put("buildID", t.buildId()).put("status", t.buildStatus())
                    .put("createdAt", t.createdAt().toString()).put("updatedAt", t.updatedAt().toString())
                    .put("cpuCount", t.cpuCount()).put("memoryMB", t.memoryMB());
        }
        return RestResponse.json(200, out);
    }

    private RestResponse delete(RestRequest r) {
        service.delete(r.requireTeam(), r.pathParam("templateID"));
        return RestResponse.noContent();
    }

    static ObjectNode infoJson(TemplateService.Info t) {
        ObjectNode n = Json.object();
        n.put("templateID", t.templateId()).put("buildID", t.buildId()).put("cpuCount", t.cpuCount())
                .put("memoryMB", t.memoryMB()).put("diskSizeMB", 0).put("public", t.isPublic())
                .put("createdAt", t.createdAt().toString()).put("updatedAt", t.updatedAt().toString())
                .put("spawnCount", t.spawnCount()).put("buildCount", t.buildId() == null ? 0 : 1)
                .put("buildStatus", t.buildStatus()).put("envdVersion", "0.2.0");
        n.putNull("createdBy");
        n.putNull("lastSpawnedAt");
        t.names().forEach(n.putArray("aliases")::add);
        t.names().forEach(n.putArray("names")::add);
        return n;
    }

    private static String templateId(RestRequest r) {
        String id = r.pathParam("templateID");
        if (!TEMPLATE_ID.matcher(id).matches()) {
            throw HttpError.notFound("template '" + id + "' not found");
        }
        return id;
    }

    private static String buildId(RestRequest r) {
        String id = r.pathParam("buildID");
        if (!BUILD_ID.matcher(id).matches()) {
            throw HttpError.notFound("build '" + id + "' not found");
        }
        return id;
    }

    private static String hash(RestRequest r) {
        String h = r.pathParam("hash");
        if (!FILES_HASH.matcher(h).matches()) {
            throw HttpError.badRequest("files hash '" + h + "' must be 1-128 letters and digits");
        }
        return h;
    }
}
