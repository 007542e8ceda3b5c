using k8s.Models;

namespace Nexus.ApiServer.Tests.Support;

/// <summary>Minimal valid workload objects for the tests.</summary>
internal static class Workloads
{
    public static V1Deployment Deployment(string name, string image = "registry.example/serve:1.0", int? replicas = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = name },
        Spec = new V1DeploymentSpec
        {
            Replicas = replicas,
            Selector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = name } },
            Template = new V1PodTemplateSpec
            {
                Metadata = new V1ObjectMeta { Labels = new Dictionary<string, string> { ["app"] = name } },
                Spec = new V1PodSpec { Containers = [new V1Container { Name = "server", Image = image }] },
            },
        },
    };

    public static V1Job Job(string name, string image = "registry.example/train:1.0") => new()
    {
        Metadata = new V1ObjectMeta { Name = name },
        Spec = new V1JobSpec
        {
            Template = new V1PodTemplateSpec
            {
                Spec = new V1PodSpec
                {
                    RestartPolicy = "Never",
                    Containers = [new V1Container { Name = "train", Image = image, Args = ["train"] }],
                },
            },
        },
    };
}
