"""A hand-written search space in the style of NNI's classic NAS quick start.

The model is ordinary PyTorch with two layer choices (a 3x3 or a 5x5 convolution) and an
optional skip connection (an input choice of none or one input). Run it three ways:

    python examples/hand_written/train.py                  # standalone: the first candidates
    nascompile ss-gen --trial-command "python examples/hand_written/train.py"   # its search space
    NASCOMPILE_TRIAL_PARAMETERS=params.json python examples/hand_written/train.py   # one trial

(``nascompile`` must be importable: install it, or run from the repository root with
``PYTHONPATH=.``.) It trains one step on random data so that it runs anywhere in seconds;
swap in a real dataset to search for real.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from nascompile.nn import InputChoice, LayerChoice, get_and_apply_next_architecture, report_final_result


class Net(nn.Module):
    def __init__(self, classes: int = 10):
        super().__init__()
        self.conv1 = LayerChoice({"conv3x3": nn.Conv2d(3, 8, 3, padding=1),
                                  "conv5x5": nn.Conv2d(3, 8, 5, padding=2)})
        self.pool = nn.MaxPool2d(2)
        self.conv2 = LayerChoice({"conv3x3": nn.Conv2d(8, 16, 3, padding=1),
                                  "conv5x5": nn.Conv2d(8, 16, 5, padding=2)})
        self.conv3 = nn.Conv2d(16, 16, 1)
        self.skipconnect = InputChoice(choose_from=["conv2"], n_chosen=None)  # skip or not
        self.bn = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16, classes)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x0 = F.relu(self.conv2(x))
        x = F.relu(self.conv3(x0))
        skip = self.skipconnect([x0])
        if skip is not None:
            x = x + skip
        x = self.pool(self.bn(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def main():
    torch.manual_seed(0)
    model = Net()
    get_and_apply_next_architecture(model)  # in ss-gen mode, writes the search space and exits
    images, labels = torch.randn(16, 3, 32, 32), torch.randint(0, 10, (16,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    loss = F.cross_entropy(model(images), labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(images).argmax(1) == labels).float().mean().item()
    report_final_result(accuracy)


if __name__ == "__main__":
    main()
