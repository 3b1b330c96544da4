"""Pure PyTorch/numpy world-model core. Never imports rclpy or *_msgs packages."""
