namespace Nexus.Training.Data;

/// <summary>One document as a source yields it: where it came from (<c>package@version:path</c>) and its text, before the common cleaning.</summary>
public sealed record SourceDocument(string Id, string Text);

/// <summary>A package and the reader that knows its layout: which files are documents and how to get their text.</summary>
public interface IDocumentSource
{
    NpmPackage Package { get; }

    /// <summary>What this source takes from the package, in words (it goes into the manifest).</summary>
    string Selection { get; }

    /// <summary>The documents in the package's tarball, in a fixed order.</summary>
    IEnumerable<SourceDocument> Read(string tarball);
}
