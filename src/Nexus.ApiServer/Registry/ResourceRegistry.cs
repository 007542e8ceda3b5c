using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Nexus.ApiServer.Patching;
using Nexus.ApiServer.Resources;
using Nexus.ApiServer.Selectors;
using Nexus.ApiServer.Storage;

namespace Nexus.ApiServer.Registry;

/// <summary>The generic registry: the rules of create, get, list, update, patch and delete that the real API server
/// applies to every resource (k8s.io/apiserver's generic registry Store plus the rest package), on top of the MVCC store.
/// The HTTP handlers, the garbage collector and the simulated controllers all write through it, so every write obeys
/// the same rules and reaches watches the same way.</summary>
internal sealed class ResourceRegistry(ObjectStore store, ResourceCatalog catalog, TimeProvider clock)
{
    private const string NameAlphabet = "bcdfghjklmnpqrstvwxz2456789";

    public ObjectStore Store => store;

    public ResourceCatalog Catalog => catalog;

    public ApiResponse Get(ResourceDefinition definition, string? ns, string name) =>
        store.Transact(tx => new ApiResponse(200, Present(definition, tx.Get(definition, ns, name) ?? throw ApiErrors.NotFound(definition, name))));

    public ApiResponse List(ResourceDefinition definition, string? ns, ListOptions options)
    {
        var labels = ParseLabels(options.LabelSelector);
        var fields = ParseFields(definition, options.FieldSelector);
        var requested = ParseResourceVersion(options.ResourceVersion);
        if (options.ResourceVersionMatch is { Length: > 0 } match)
        {
            if (options.ResourceVersion is null)
            {
                throw ApiErrors.BadRequest("resourceVersionMatch is forbidden unless resourceVersion is provided");
            }

            if (match is not ("Exact" or "NotOlderThan"))
            {
                throw ApiErrors.BadRequest($"resourceVersionMatch: Unsupported value: \"{match}\": supported values: \"Exact\", \"NotOlderThan\"");
            }
        }

        return store.Transact(tx =>
        {
            IReadOnlyList<StoredObject> objects;
            long listRevision;
            string? startKey = null;
            if (options.Continue is { Length: > 0 } token)
            {
                (long Revision, string StartKey) position;
                try
                {
                    position = ContinueToken.Decode(token);
                }
                catch (FormatException e)
                {
                    throw ApiErrors.BadRequest(e.Message);
                }

                startKey = position.StartKey;
                if (position.Revision < 0)
                {
                    objects = [.. tx.Scan(definition)];
                    listRevision = tx.Revision;
                }
                else
                {
                    if (position.Revision < tx.CompactedRevision(definition))
                    {
                        throw ExpiredContinue(position.StartKey);
                    }

                    objects = tx.SnapshotAt(definition, position.Revision);
                    listRevision = position.Revision;
                }
            }
            else if (options.ResourceVersionMatch == "Exact")
            {
                listRevision = requested ?? 0;
                objects = tx.SnapshotAt(definition, listRevision);
            }
            else
            {
                if (requested is { } atLeast && atLeast > tx.Revision)
                {
                    throw TooLargeResourceVersion(atLeast, tx.Revision);
                }

                objects = [.. tx.Scan(definition)];
                listRevision = tx.Revision;
            }

            var matching = objects
                .Where(o => (ns is null || o.Namespace == ns)
                    && (startKey is null || string.CompareOrdinal(o.Key, startKey) >= 0)
                    && labels.Matches(o.Labels)
                    && fields.Matches(o))
                .ToList();
            var page = options.Limit > 0 && matching.Count > options.Limit ? matching.Take(options.Limit).ToList() : matching;
            var metadata = new JsonObject { ["resourceVersion"] = Text(listRevision) };
            if (page.Count < matching.Count)
            {
                metadata["continue"] = ContinueToken.Encode(listRevision, page[^1].Key);
                if (labels.IsEverything && fields.IsEverything)
                {
                    metadata["remainingItemCount"] = matching.Count - page.Count;
                }
            }

            var items = new JsonArray();
            foreach (var stored in page)
            {
                var item = Present(definition, stored);
                if (!definition.IsCustomResource)
                {
                    // Built-in lists carry items without kind and apiVersion; only the list says what they are.
                    item.Remove("kind");
                    item.Remove("apiVersion");
                }

                items.Add(item);
            }

            return new ApiResponse(200, new JsonObject
            {
                ["kind"] = definition.ListKind,
                ["apiVersion"] = definition.ApiVersion,
                ["metadata"] = metadata,
                ["items"] = items,
            });
        });
    }

    public ApiResponse Create(ResourceDefinition definition, string? ns, JsonObject body, bool dryRun = false)
    {
        CheckKind(definition, body);
        var metadata = ObjectJson.Metadata(body);
        if (ObjectJson.StringOf(metadata["resourceVersion"]) is { Length: > 0 })
        {
            throw ApiErrors.BadRequest("resourceVersion should not be set on objects to be created");
        }

        ns = CheckNamespace(definition, ns, metadata);
        definition.Strategy.ApplyDefaults(body);
        return store.Transact(tx =>
        {
            if (definition.Namespaced)
            {
                var owningNamespace = tx.Get(catalog.Namespaces, null, ns!) ?? throw ApiErrors.NamespaceNotFound(ns!);
                if (owningNamespace.IsBeingDeleted)
                {
                    throw ApiErrors.Forbidden(
                        definition,
                        ObjectJson.StringOf(metadata["name"]) ?? string.Empty,
                        $"unable to create new content in namespace {ns} because it is being terminated");
                }
            }

            var name = ObjectJson.StringOf(metadata["name"]);
            if (string.IsNullOrEmpty(name))
            {
                var prefix = ObjectJson.StringOf(metadata["generateName"]);
                if (string.IsNullOrEmpty(prefix))
                {
                    throw ApiErrors.Invalid(definition, string.Empty, [FieldViolation.Required("metadata.name", "name or generateName is required")]);
                }

                do
                {
                    name = prefix + RandomSuffix();
                }
                while (tx.Get(definition, ns, name) is not null);
                metadata["name"] = name;
            }

            metadata["uid"] = Guid.NewGuid().ToString();
            metadata["creationTimestamp"] = ObjectJson.Timestamp(clock.GetUtcNow());
            foreach (var serverOwned in new[] { "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink", "managedFields" })
            {
                metadata.Remove(serverOwned);
            }

            if (definition.HasGeneration)
            {
                metadata["generation"] = 1;
            }
            else
            {
                metadata.Remove("generation");
            }

            definition.Strategy.PrepareForCreate(definition, body);
            var violations = ObjectMetaValidation.Validate(body, NameIsDnsLabel(definition))
                .Concat(definition.Strategy.ValidateCreate(definition, body))
                .ToList();
            if (violations.Count > 0)
            {
                throw ApiErrors.Invalid(definition, name, violations);
            }

            if (tx.Get(definition, ns, name) is not null)
            {
                throw ApiErrors.AlreadyExists(definition, name);
            }

            if (dryRun)
            {
                return new ApiResponse(201, body);
            }

            var stored = tx.Put(definition, body, null);
            definition.Strategy.Committed(stored.ToJsonObject());
            return new ApiResponse(201, Present(definition, stored));
        });
    }

    /// <summary>PUT of the object (<paramref name="statusOnly"/> false) or of its /status.</summary>
    public ApiResponse Update(ResourceDefinition definition, string? ns, string name, JsonObject body, bool statusOnly, bool dryRun = false)
    {
        CheckKind(definition, body);
        var metadata = ObjectJson.Metadata(body);
        if (ObjectJson.StringOf(metadata["name"]) != name)
        {
            throw ApiErrors.BadRequest($"the name of the object ({ObjectJson.StringOf(metadata["name"])}) does not match the name on the URL ({name})");
        }

        CheckNamespace(definition, ns, metadata);
        return store.Transact(tx =>
        {
            var current = tx.Get(definition, ns, name) ?? throw ApiErrors.NotFound(definition, name);
            return ApplyUpdate(tx, definition, current, body, statusOnly, requireResourceVersion: !definition.Strategy.AllowUnconditionalUpdate, dryRun);
        });
    }

    public ApiResponse Patch(ResourceDefinition definition, string? ns, string name, PatchFormat format, string patchText, bool statusOnly, bool dryRun = false)
    {
        JsonNode? patch;
        try
        {
            patch = JsonNode.Parse(patchText);
        }
        catch (JsonException e)
        {
            throw ApiErrors.BadRequest($"error decoding patch: {e.Message}");
        }

        return store.Transact(tx =>
        {
            var current = tx.Get(definition, ns, name) ?? throw ApiErrors.NotFound(definition, name);
            var original = current.ToJsonObject();
            JsonNode? patched;
            try
            {
                patched = format == PatchFormat.Json ? JsonPatch.Apply(original, patch) : MergePatch.Apply(original, patch);
            }
            catch (JsonPatch.MalformedPatchException e)
            {
                throw ApiErrors.BadRequest(e.Message);
            }
            catch (JsonPatch.PatchApplyException e)
            {
                throw ApiErrors.PatchFailed(e.Message);
            }

            if (patched is not JsonObject patchedObject)
            {
                throw ApiErrors.BadRequest("the patch produced a document that is not an object");
            }

            var patchedMetadata = ObjectJson.Metadata(patchedObject);
            if (ObjectJson.StringOf(patchedMetadata["name"]) is { } patchedName && patchedName != name)
            {
                throw ApiErrors.BadRequest($"the name of the object ({patchedName}) does not match the name on the URL ({name})");
            }

            // A resourceVersion in the patch is a precondition; without one the patch applies to the current object.
            if (ObjectJson.StringOf(patchedMetadata["resourceVersion"]) is not { Length: > 0 })
            {
                patchedMetadata["resourceVersion"] = Text(current.Revision);
            }

            return ApplyUpdate(tx, definition, current, patchedObject, statusOnly, requireResourceVersion: false, dryRun);
        });
    }

    public ApiResponse Delete(ResourceDefinition definition, string? ns, string name, DeleteOptions options) =>
        store.Transact(tx =>
        {
            var current = tx.Get(definition, ns, name) ?? throw ApiErrors.NotFound(definition, name);
            return DeleteCore(tx, definition, current, options);
        });

    /// <summary>Deletes every object in <paramref name="ns"/> matching the selectors, each as a single DELETE would.</summary>
    public ApiResponse DeleteCollection(ResourceDefinition definition, string? ns, ListOptions list, DeleteOptions options)
    {
        var labels = ParseLabels(list.LabelSelector);
        var fields = ParseFields(definition, list.FieldSelector);
        return store.Transact(tx =>
        {
            var targets = tx.Scan(definition)
                .Where(o => (ns is null || o.Namespace == ns) && labels.Matches(o.Labels) && fields.Matches(o))
                .ToList();
            foreach (var target in targets)
            {
                DeleteCore(tx, definition, target, options);
            }

            return new ApiResponse(200, ApiErrors.StatusObject("Success", 200, null, string.Empty, null));
        });
    }

    /// <summary>A read-modify-write of one object under the store lock, for the server's own controllers: the change
    /// sees the current object, so there is never a conflict. Returns whether anything was written (false when the
    /// object is gone or the change was a no-op).</summary>
    public bool Mutate(ResourceDefinition definition, string? ns, string name, Action<JsonObject> change, bool statusOnly)
    {
        return store.Transact(tx =>
        {
            if (tx.Get(definition, ns, name) is not { } current)
            {
                return false;
            }

            var next = current.ToJsonObject();
            change(next);
            var before = tx.Revision;
            ApplyUpdate(tx, definition, current, next, statusOnly, requireResourceVersion: false, dryRun: false);
            return tx.Revision != before;
        });
    }

    /// <summary>The namespace controller's last step: removes a terminating namespace once nothing is left in it.
    /// Returns whether it did.</summary>
    public bool FinalizeNamespace(string name) =>
        store.Transact(tx =>
        {
            if (tx.Get(catalog.Namespaces, null, name) is not { IsBeingDeleted: true } current
                || tx.ScanAll().Any(o => o.Namespace == name))
            {
                return false;
            }

            tx.Remove(catalog.Namespaces, current);
            return true;
        });

    /// <summary>The object as a client at <paramref name="definition"/>'s version sees it.</summary>
    public static JsonObject Present(ResourceDefinition definition, StoredObject stored)
    {
        var obj = stored.ToJsonObject();
        if (ObjectJson.StringOf(obj["apiVersion"]) != definition.ApiVersion)
        {
            obj["apiVersion"] = definition.ApiVersion;
        }

        return obj;
    }

    public static LabelSelector ParseLabels(string? text)
    {
        try
        {
            return LabelSelector.Parse(text);
        }
        catch (FormatException e)
        {
            throw ApiErrors.BadRequest($"unable to parse requirement: {e.Message}");
        }
    }

    public static FieldSelector ParseFields(ResourceDefinition definition, string? text)
    {
        try
        {
            return FieldSelector.Parse(text, definition.SelectableFields);
        }
        catch (FormatException e)
        {
            throw ApiErrors.BadRequest(e.Message);
        }
    }

    public static long? ParseResourceVersion(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var revision))
        {
            throw ApiErrors.BadRequest($"invalid resource version: {text}");
        }

        return revision;
    }

    private ApiResponse ApplyUpdate(
        ObjectStore.Transaction tx,
        ResourceDefinition definition,
        StoredObject current,
        JsonObject incoming,
        bool statusOnly,
        bool requireResourceVersion,
        bool dryRun)
    {
        var name = current.Name;
        var incomingMetadata = ObjectJson.Metadata(incoming);
        var incomingVersion = ObjectJson.StringOf(incomingMetadata["resourceVersion"]);
        if (string.IsNullOrEmpty(incomingVersion))
        {
            if (requireResourceVersion)
            {
                throw ApiErrors.Invalid(definition, name, [FieldViolation.Invalid("metadata.resourceVersion", "0x0", "must be specified for an update")]);
            }
        }
        else if (incomingVersion != Text(current.Revision))
        {
            // A resourceVersion that is not a number is a bad request, not a stale one.
            _ = ParseResourceVersion(incomingVersion);
            throw ApiErrors.Conflict(definition, name, ApiErrors.StaleObject);
        }

        if (ObjectJson.StringOf(incomingMetadata["uid"]) is { Length: > 0 } uid && uid != current.Uid)
        {
            throw ApiErrors.Conflict(definition, name, $"Precondition failed: UID in precondition: {uid}, UID in object meta: {current.Uid}");
        }

        var old = current.ToJsonObject();
        JsonObject next;
        if (statusOnly)
        {
            // /status writes status and nothing else; metadata changes are ignored.
            next = ObjectJson.Clone(old);
            SetStatus(next, incoming["status"]);
        }
        else
        {
            definition.Strategy.ApplyDefaults(incoming);
            next = incoming;
            if (definition.HasStatusSubresource)
            {
                SetStatus(next, old["status"]);
            }

            CarrySystemMetadata(old, next);
            definition.Strategy.PrepareForUpdate(next, old);
        }

        var violations = new List<FieldViolation>();
        if (current.IsBeingDeleted)
        {
            var added = ObjectJson.Finalizers(next).Except(current.Finalizers).ToList();
            if (added.Count > 0)
            {
                violations.Add(FieldViolation.Forbidden(
                    "metadata.finalizers",
                    $"no new finalizers can be added if the object is being deleted, found new finalizers []string{{{string.Join(", ", added.Select(f => $"\"{f}\""))}}}"));
            }
        }

        violations.AddRange(ObjectMetaValidation.Validate(next, NameIsDnsLabel(definition)));
        violations.AddRange(definition.Strategy.ValidateUpdate(definition, next, old));
        if (violations.Count > 0)
        {
            throw ApiErrors.Invalid(definition, name, violations);
        }

        if (definition.HasGeneration && !SameExceptMetadata(definition, next, old))
        {
            ObjectJson.Metadata(next)["generation"] = (ObjectJson.Long(old["metadata"]?["generation"]) ?? 0) + 1;
        }

        ObjectJson.Metadata(next)["resourceVersion"] = Text(current.Revision);
        if (Semantic(next).Equals(Semantic(old), StringComparison.Ordinal))
        {
            // The real store compares the bytes it would write with those it holds and skips a no-op write: no new
            // resourceVersion, no watch event.
            return new ApiResponse(200, Present(definition, current));
        }

        if (current.IsBeingDeleted && ObjectJson.Finalizers(next).Count == 0)
        {
            if (dryRun)
            {
                return new ApiResponse(200, next);
            }

            var final = tx.Remove(definition, current);
            definition.Strategy.Removed(final.ToJsonObject());
            return new ApiResponse(200, Present(definition, final));
        }

        if (dryRun)
        {
            return new ApiResponse(200, next);
        }

        var stored = tx.Put(definition, next, current);
        definition.Strategy.Committed(stored.ToJsonObject());
        return new ApiResponse(200, Present(definition, stored));
    }

    private ApiResponse DeleteCore(ObjectStore.Transaction tx, ResourceDefinition definition, StoredObject current, DeleteOptions options)
    {
        var name = current.Name;
        if (options.PreconditionUid is { Length: > 0 } uid && uid != current.Uid)
        {
            throw ApiErrors.Conflict(definition, name, $"Precondition failed: UID in precondition: {uid}, UID in object meta: {current.Uid}");
        }

        if (options.PreconditionResourceVersion is { Length: > 0 } version && version != Text(current.Revision))
        {
            throw ApiErrors.Conflict(
                definition, name, $"Precondition failed: ResourceVersion in precondition: {version}, ResourceVersion in object meta: {Text(current.Revision)}");
        }

        var policy = options.PropagationPolicy
            ?? options.OrphanDependents switch
            {
                true => PropagationPolicies.Orphan,
                false => PropagationPolicies.Background,
                null => null,
            };
        if (policy is not (null or PropagationPolicies.Background or PropagationPolicies.Foreground or PropagationPolicies.Orphan))
        {
            throw ApiErrors.BadRequest($"propagationPolicy: Unsupported value: \"{policy}\": supported values: \"Foreground\", \"Background\", \"Orphan\"");
        }

        var obj = current.ToJsonObject();
        if (definition == catalog.Namespaces)
        {
            // Namespace deletion goes through phase Terminating; the namespace lifecycle in the garbage collector
            // empties it and then removes it.
            if (!current.IsBeingDeleted && !options.DryRun)
            {
                MarkDeleted(definition, obj);
                ((JsonObject)(obj["status"] ??= new JsonObject()))["phase"] = "Terminating";
                current = tx.Put(definition, obj, current);
            }

            return new ApiResponse(200, Present(definition, current));
        }

        // As the generic registry decides: an explicit policy wins, then a GC finalizer already on the object, then
        // the type's default (Orphan for batch/v1 Jobs, Background for everything else).
        var orphan = policy is not null
            ? policy == PropagationPolicies.Orphan
            : current.Finalizers.Contains(PropagationPolicies.OrphanFinalizer)
                || (!current.Finalizers.Contains(PropagationPolicies.ForegroundFinalizer) && definition.Strategy.DefaultPropagationPolicy == PropagationPolicies.Orphan);
        var foreground = policy is not null
            ? policy == PropagationPolicies.Foreground
            : current.Finalizers.Contains(PropagationPolicies.ForegroundFinalizer) && !orphan;
        var finalizers = current.Finalizers.Where(f => f is not (PropagationPolicies.OrphanFinalizer or PropagationPolicies.ForegroundFinalizer)).ToList();
        if (orphan)
        {
            finalizers.Add(PropagationPolicies.OrphanFinalizer);
        }

        if (foreground)
        {
            finalizers.Add(PropagationPolicies.ForegroundFinalizer);
        }

        if (current.IsBeingDeleted)
        {
            if (finalizers.SequenceEqual(current.Finalizers) || options.DryRun)
            {
                return new ApiResponse(200, Present(definition, current));
            }

            ObjectJson.SetFinalizers(obj, finalizers);
            var updated = finalizers.Count == 0 ? tx.Remove(definition, current) : tx.Put(definition, obj, current);
            return new ApiResponse(200, Present(definition, updated));
        }

        if (finalizers.Count == 0)
        {
            if (options.DryRun)
            {
                return DeletedResponse(definition, current);
            }

            var final = tx.Remove(definition, current);
            definition.Strategy.Removed(final.ToJsonObject());
            return DeletedResponse(definition, final);
        }

        MarkDeleted(definition, obj);
        ObjectJson.SetFinalizers(obj, finalizers);
        if (options.DryRun)
        {
            return new ApiResponse(200, obj);
        }

        return new ApiResponse(200, Present(definition, tx.Put(definition, obj, current)));
    }

    private void MarkDeleted(ResourceDefinition definition, JsonObject obj)
    {
        var metadata = ObjectJson.Metadata(obj);
        metadata["deletionTimestamp"] = ObjectJson.Timestamp(clock.GetUtcNow());
        metadata["deletionGracePeriodSeconds"] = 0;
        if (definition.HasGeneration && ObjectJson.Long(metadata["generation"]) is { } generation and > 0)
        {
            // The first graceful deletion bumps the generation, so controllers see that something changed.
            metadata["generation"] = generation + 1;
        }
    }

    private static ApiResponse DeletedResponse(ResourceDefinition definition, StoredObject final)
    {
        if (definition.Strategy.ReturnDeletedObject)
        {
            return new ApiResponse(200, Present(definition, final));
        }

        var details = new JsonObject { ["name"] = final.Name };
        if (definition.Group.Length > 0)
        {
            details["group"] = definition.Group;
        }

        details["kind"] = definition.Plural;
        details["uid"] = final.Uid;
        return new ApiResponse(200, ApiErrors.StatusObject("Success", 200, null, string.Empty, details));
    }

    private static void CarrySystemMetadata(JsonObject old, JsonObject next)
    {
        var from = ObjectJson.Metadata(old);
        var to = ObjectJson.Metadata(next);
        foreach (var field in new[] { "uid", "creationTimestamp", "generation", "deletionTimestamp", "deletionGracePeriodSeconds", "namespace", "name" })
        {
            if (from[field] is { } value)
            {
                to[field] = value.DeepClone();
            }
            else
            {
                to.Remove(field);
            }
        }

        to.Remove("selfLink");
        to.Remove("managedFields");
    }

    private static void SetStatus(JsonObject obj, JsonNode? status)
    {
        if (status is null)
        {
            obj.Remove("status");
        }
        else
        {
            obj["status"] = status.DeepClone();
        }
    }

    /// <summary>Whether anything outside metadata (and outside status, for types with a status subresource)
    /// differs: the condition for a generation bump.</summary>
    private static bool SameExceptMetadata(ResourceDefinition definition, JsonObject a, JsonObject b)
    {
        var left = ObjectJson.Clone(a);
        var right = ObjectJson.Clone(b);
        foreach (var obj in new[] { left, right })
        {
            obj.Remove("metadata");
            obj.Remove("apiVersion");
            if (definition.HasStatusSubresource)
            {
                obj.Remove("status");
            }
        }

        return Semantic(left).Equals(Semantic(right), StringComparison.Ordinal);
    }

    private static string Semantic(JsonNode? node) => ObjectJson.CanonicalText(node);

    private static void CheckKind(ResourceDefinition definition, JsonObject body)
    {
        var kind = ObjectJson.StringOf(body["kind"]);
        var apiVersion = ObjectJson.StringOf(body["apiVersion"]);
        if (definition.IsCustomResource && (string.IsNullOrEmpty(kind) || string.IsNullOrEmpty(apiVersion)))
        {
            throw ApiErrors.BadRequest($"Object 'Kind' is missing in '{body.ToJsonString(ObjectJson.Compact)}'");
        }

        if (!string.IsNullOrEmpty(kind) && kind != definition.Kind)
        {
            throw ApiErrors.BadRequest($"the object provided is unrecognized (must be of type {definition.Kind}): couldn't get version/kind; json parse error: kind {kind} is not {definition.Kind}");
        }

        if (!string.IsNullOrEmpty(apiVersion) && apiVersion != definition.ApiVersion)
        {
            throw ApiErrors.BadRequest($"the API version in the data ({apiVersion}) does not match the expected API version ({definition.ApiVersion})");
        }

        // The decoder fills in what a typed client left out.
        body["kind"] = definition.Kind;
        body["apiVersion"] = definition.ApiVersion;
    }

    private static string? CheckNamespace(ResourceDefinition definition, string? ns, JsonObject metadata)
    {
        if (!definition.Namespaced)
        {
            metadata.Remove("namespace");
            return null;
        }

        var inBody = ObjectJson.StringOf(metadata["namespace"]);
        if (!string.IsNullOrEmpty(inBody) && inBody != ns)
        {
            throw ApiErrors.BadRequest("the namespace of the provided object does not match the namespace sent on the request");
        }

        metadata["namespace"] = ns;
        return ns;
    }

    private static bool NameIsDnsLabel(ResourceDefinition definition) =>
        definition.Group.Length == 0 && definition.Plural is "namespaces" or "services";

    private static ApiException ExpiredContinue(string startKey)
    {
        var error = ApiErrors.Expired(
            "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, "
            + "or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an "
            + "inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.");
        var inconsistent = ContinueToken.Encode(-1, startKey.TrimEnd('\u0000'));
        error.Status["metadata"] = new JsonObject { ["continue"] = inconsistent };
        return error;
    }

    private static ApiException TooLargeResourceVersion(long requested, long current)
    {
        var error = ApiErrors.Injected(504, $"Too large resource version: {requested}, current: {current}");
        error.Status["details"] = new JsonObject
        {
            ["causes"] = new JsonArray(new JsonObject { ["reason"] = "ResourceVersionTooLarge", ["message"] = "Too large resource version" }),
            ["retryAfterSeconds"] = 1,
        };
        return error;
    }

    private static string RandomSuffix() =>
        string.Create(5, 0, (span, _) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = NameAlphabet[Random.Shared.Next(NameAlphabet.Length)];
            }
        });

    private static string Text(long revision) => revision.ToString(CultureInfo.InvariantCulture);
}
