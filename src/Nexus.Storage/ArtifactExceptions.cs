namespace Nexus.Storage;

/// <summary>A store failed for good (no such bucket, access denied, unreachable after retries): the message names the endpoint, bucket and key, never a secret.</summary>
public class ArtifactStoreException(string message, Exception? inner = null) : IOException(message, inner);

/// <summary>What was read is not what the manifest promised (size or SHA-256), or the manifest itself is broken.</summary>
public sealed class ArtifactIntegrityException(string message) : ArtifactStoreException(message);

/// <summary>The location holds no published artifact (no manifest).</summary>
public sealed class ArtifactNotFoundException(string message) : ArtifactStoreException(message);
