using Nexus.ApiServer.Registry;

namespace Nexus.ApiServer.Resources;

/// <summary>Every resource the server serves, by group, version and plural: the built-ins registered at start and the
/// custom resources installed since. Safe to read while CRDs are installed.</summary>
public sealed class ResourceCatalog
{
    private readonly Lock gate = new();
    private Dictionary<(string Group, string Version, string Plural), ResourceDefinition> byPath = [];

    internal ResourceCatalog(AdmissionFactory? admissionFactory)
    {
        AdmissionFactory = admissionFactory;
        Namespaces = new ResourceDefinition("", "v1", "namespaces", "namespace", "Namespace", false, true, false, new NamespaceStrategy(), ["ns"]);
        Register(Namespaces);
        Register(new("", "v1", "configmaps", "configmap", "ConfigMap", true, false, false, ResourceStrategy.Default, ["cm"]));
        Register(new("", "v1", "secrets", "secret", "Secret", true, false, false, new SecretStrategy(), selectableFields: ["type"]));
        Register(new("", "v1", "services", "service", "Service", true, true, false, new ServiceStrategy(), ["svc"]));
        Register(new(
            "", "v1", "pods", "pod", "Pod", true, true, false, new PodStrategy(), ["po"],
            selectableFields: ["spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName", "status.phase", "status.podIP"]));
        Register(new(
            "", "v1", "events", "event", "Event", true, false, false, ResourceStrategy.Default, ["ev"],
            selectableFields:
            [
                "involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
                "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason",
                "reportingComponent", "source", "type",
            ]));
        Register(new("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", true, false, false, ResourceStrategy.Default, ["sa"]));
        Register(new("apps", "v1", "deployments", "deployment", "Deployment", true, true, true, new DeploymentStrategy(), ["deploy"]));
        Register(new("apps", "v1", "replicasets", "replicaset", "ReplicaSet", true, true, true, new ReplicaSetStrategy(), ["rs"], selectableFields: ["status.replicas"]));
        Register(new("batch", "v1", "jobs", "job", "Job", true, true, true, new JobStrategy(), selectableFields: ["status.successful"]));
        Register(new("coordination.k8s.io", "v1", "leases", "lease", "Lease", true, false, false, ResourceStrategy.Default));
        Register(new(
            "events.k8s.io", "v1", "events", "event", "Event", true, false, false, ResourceStrategy.Default, ["ev"],
            selectableFields: ["regarding.kind", "regarding.namespace", "regarding.name", "regarding.uid", "reason", "type", "reportingController"]));
        CustomResourceDefinitions = new ResourceDefinition(
            "apiextensions.k8s.io", "v1", "customresourcedefinitions", "customresourcedefinition", "CustomResourceDefinition", false, true, true,
            new CustomResourceDefinitionStrategy(this), ["crd", "crds"]);
        Register(CustomResourceDefinitions);
    }

    internal ResourceDefinition Namespaces { get; }

    internal ResourceDefinition CustomResourceDefinitions { get; }

    /// <summary>Makes admission hooks for CRDs created through the API (rather than <c>InstallCrd</c>).</summary>
    internal AdmissionFactory? AdmissionFactory { get; }

    public IReadOnlyList<ResourceDefinition> All
    {
        get
        {
            lock (gate)
            {
                return [.. byPath.Values];
            }
        }
    }

    public ResourceDefinition? Find(string group, string version, string plural)
    {
        lock (gate)
        {
            return byPath.GetValueOrDefault((group, version, plural));
        }
    }

    /// <summary>The definition for an apiVersion (<c>v1</c>, <c>batch/v1</c>) and plural; throws when not served.</summary>
    public ResourceDefinition Get(string apiVersion, string plural)
    {
        var slash = apiVersion.IndexOf('/', StringComparison.Ordinal);
        var (group, version) = slash < 0 ? ("", apiVersion) : (apiVersion[..slash], apiVersion[(slash + 1)..]);
        return Find(group, version, plural) ?? throw new KeyNotFoundException($"{apiVersion} {plural} is not served");
    }

    /// <summary>The definition that serves objects of <paramref name="apiVersion"/> and <paramref name="kind"/>.</summary>
    public ResourceDefinition? FindByKind(string apiVersion, string kind)
    {
        lock (gate)
        {
            return byPath.Values.FirstOrDefault(d => d.ApiVersion == apiVersion && d.Kind == kind);
        }
    }

    internal void Register(ResourceDefinition definition)
    {
        lock (gate)
        {
            byPath = new(byPath) { [(definition.Group, definition.Version, definition.Plural)] = definition };
        }
    }

    /// <summary>Replaces every version of one custom resource with <paramref name="versions"/>.</summary>
    internal void ReplaceCustomResource(string group, string plural, IReadOnlyList<ResourceDefinition> versions)
    {
        lock (gate)
        {
            var next = byPath.Where(p => !(p.Key.Group == group && p.Key.Plural == plural)).ToDictionary(p => p.Key, p => p.Value);
            foreach (var version in versions)
            {
                next[(version.Group, version.Version, version.Plural)] = version;
            }

            byPath = next;
        }
    }
}
