namespace Nexus.Api.V1Alpha1;

/// <summary>Regular expressions and limits the schema shares between fields (Kubernetes' own where one exists).</summary>
internal static class Patterns
{
    /// <summary>RFC 1123 label: object names of Services, label values, expert domains.</summary>
    public const string DnsLabel = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
    public const int DnsLabelMaxLength = 63;

    /// <summary>RFC 1123 subdomain: the names of most Kubernetes objects.</summary>
    public const string DnsSubdomain = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
    public const int DnsSubdomainMaxLength = 253;

    /// <summary>Extended resource name such as <c>nvidia.com/gpu</c> or <c>amd.com/gpu</c>.</summary>
    public const string QualifiedName =
        "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$";

    public const string Sha256 = "^[a-f0-9]{64}$";

    /// <summary>Artifact locations the storage layer serves (docs/storage.md).</summary>
    public const string ArtifactUriRule = "self.startsWith('s3://') || self.startsWith('file:///')";
    public const string ArtifactUriMessage = "must be an s3://BUCKET/PREFIX or file:///ABSOLUTE/PATH URI";
    public const int UriMaxLength = 2048;

    /// <summary>A percentage of replicas, as Deployment rollout fields take it.</summary>
    public const string Percent = "^(100|[1-9]?[0-9])%$";

    /// <summary>Free-form human-readable text written by the operator (metav1.Condition's message limit).</summary>
    public const int MessageMaxLength = Conditions.MaxMessageLength;
}
