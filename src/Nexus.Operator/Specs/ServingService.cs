using System.Globalization;
using k8s.Models;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Runtime;

namespace Nexus.Operator.Specs;

/// <summary>The ClusterIP Service in front of a NexusModel's serving pods, on the port named <c>http</c>; like the
/// Deployment's selector it never changes across revisions, so clients keep one address.</summary>
public static class ServingService
{
    public static V1Service Build(NexusModel model) => new()
    {
        ApiVersion = "v1",
        Kind = "Service",
        Metadata = new V1ObjectMeta
        {
            Name = ServingDeployment.Name(model),
            NamespaceProperty = model.Metadata.NamespaceProperty,
            Labels = WorkerPod.Labels(model, Labels.ServingComponent),
            OwnerReferences = [OwnerReferences.ControllerReference(model)],
        },
        Spec = new V1ServiceSpec
        {
            Type = "ClusterIP",
            Selector = ServingDeployment.SelectorLabels(model),
            Ports =
            [
                new V1ServicePort
                {
                    Name = ServingDeployment.PortName,
                    Port = model.Spec.Serving.Port,
                    TargetPort = ServingDeployment.PortName,
                    Protocol = "TCP",
                },
            ],
        },
    };

    /// <summary>status.endpoint: the in-cluster URL of the OpenAI-compatible API.</summary>
    public static string Endpoint(NexusModel model) =>
        $"http://{ServingDeployment.Name(model)}.{model.Metadata.NamespaceProperty}.svc:{model.Spec.Serving.Port.ToString(CultureInfo.InvariantCulture)}";
}
