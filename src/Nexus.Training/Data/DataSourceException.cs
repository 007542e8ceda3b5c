namespace Nexus.Training.Data;

/// <summary>A source package could not be fetched or read; the message names the package and version and what to do.</summary>
public sealed class DataSourceException(string message, Exception? inner = null) : InvalidOperationException(message, inner);
