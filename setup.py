"""ament_python build script for jepa_world_model (also works with plain pip)."""

from glob import glob
import os

from setuptools import find_packages, setup

package_name = 'jepa_world_model'
share_dir = os.path.join('share', package_name)


def _files(pattern):
    """Return the regular files matching ``pattern``, sorted (empty list if none)."""
    return sorted(path for path in glob(pattern) if os.path.isfile(path))


# `pip install -e .[test]`; test/test_package_files.py keeps it equal to requirements-dev.txt.
TEST_REQUIREMENTS = ['pytest', 'pytest-timeout', 'pytest-rerunfailures', 'hypothesis',
                     'onnx', 'onnxruntime',
                     'flake8', 'transformers', 'gymnasium[mujoco]']

# `pip install .[onnx]`: ONNX export and the onnxruntime inference backends
# (docs/deployment.md).
ONNX_EXTRA = ['onnx', 'onnxruntime']

data_files = [
    ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
    (share_dir, ['package.xml']),
    (os.path.join(share_dir, 'launch'), _files(os.path.join('launch', '*.launch.py'))),
    # Training configs and the ROS parameter files install side by side, as in the source tree.
    (os.path.join(share_dir, 'config', 'train'),
     _files(os.path.join('config', 'train', '*.yaml'))),
    (os.path.join(share_dir, 'config', 'ros'), _files(os.path.join('config', 'ros', '*.yaml'))),
    # Viewer set-ups: an RViz2 config and a Foxglove layout (docs/world_model_node.md).
    (os.path.join(share_dir, 'rviz'), _files(os.path.join('rviz', '*.rviz'))),
    (os.path.join(share_dir, 'foxglove'), _files(os.path.join('foxglove', '*.json'))),
]
# Shipped model files (weights, configs); the directory may be empty or absent.
model_files = _files(os.path.join('models', '*'))
if model_files:
    data_files.append((os.path.join(share_dir, 'models'), model_files))

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*']),
    # MuJoCo models of the embedded simulator, loaded with importlib.resources.
    package_data={package_name + '.sim': ['assets/*.xml']},
    data_files=data_files,
    # Like other ROS 2 Python packages, Python dependencies are declared in package.xml
    # (rosdep) and requirements*.txt (pip), not here.
    install_requires=['setuptools'],
    # The test tools (requirements-dev.txt). colcon test runs pytest only when 'pytest' is
    # a test dependency, read from this extra; tests_require, which colcon also reads, is
    # ignored by setuptools >= 72, so with it alone colcon ran no test.
    # 'pretrained': the frozen DINOv2 / V-JEPA 2 encoders (model.encoder.kind; docs/models.md).
    extras_require={'test': TEST_REQUIREMENTS, 'onnx': ONNX_EXTRA, 'pretrained': ['transformers']},
    zip_safe=True,
    maintainer='jepa_world_model maintainers',
    maintainer_email='maintainer@example.com',
    description='JEPA world model for ROS 2 robots: PyTorch core plus thin rclpy nodes.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'jepa-world-model = jepa_world_model.cli:main',
            'world_model_node = jepa_world_model.ros.world_model.node:main',
            'sim_node = jepa_world_model.ros.sim_node:main',
            'planner_node = jepa_world_model.ros.planner.node:main',
            'world_model_stack = jepa_world_model.ros.world_model_stack:main',
            'agent_predictor_node = jepa_world_model.ros.agents.node:main',
        ],
    },
)
